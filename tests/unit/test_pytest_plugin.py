"""The pytest plugin without Docker: registration, failure logs (FakeEngine), bad usage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envkit.api import Environment, load
from envkit.engine.fake import FakeEngine, Outcome
from envkit.pytest_plugin import failure_logs

pytest_plugins = ["pytester"]

STACK = """\
stack: shop
environments: {ci: {}}
services:
  db:
    image: img
    environment: {PASSWORD: "{{ env.DB_PASSWORD }}"}
    healthcheck: {test: [CMD, "true"]}
  web:
    image: img
"""


def fake_env(tmp_path: Path) -> tuple[Environment, FakeEngine]:
    (tmp_path / "envkit.yaml").write_text(STACK)
    (tmp_path / ".env").write_text("DB_PASSWORD=hunter2-secret\n")
    engine = FakeEngine()
    engine.add_image("img")
    engine.outcomes["db"] = Outcome(logs="db starting\nlogin with hunter2-secret\ndb: disk full\n")
    engine.outcomes["web"] = Outcome(logs="".join(f"web line {n}\n" for n in range(1, 101)))
    stack = load(tmp_path / "envkit.yaml", engine=engine, environ={"DB_PASSWORD": "hunter2-secret"})
    env = stack.up("ci", instance="x", wait=False)
    return env, engine


def test_failure_logs_show_the_troubled_service_s_last_lines_only(tmp_path: Path) -> None:
    env, engine = fake_env(tmp_path)
    engine.set_state("shop-ci-x-db-1", "exited", exit_code=1)
    text = failure_logs(env, lines=2)
    assert text == (
        "--- shop-ci-x-db-1 (exited, exit code 1) - last 2 lines ---\n"
        "login with (sensitive)\ndb: disk full\n"
        "--- shop-ci-x-web-1 (running) - logs left out: 'envkit logs' has them ---\n"
    )
    engine.set_state("shop-ci-x-db-1", "running", health="unhealthy")
    assert "--- shop-ci-x-db-1 (running, unhealthy) - last 20 lines ---" in failure_logs(env)
    engine.set_state("shop-ci-x-db-1", "running", health="healthy")
    assert failure_logs(env, lines=1) == (
        "--- shop-ci-x-db-1 (running, healthy) - last 1 lines ---\ndb: disk full\n"
        "--- shop-ci-x-web-1 (running) - last 1 lines ---\nweb line 100\n"
    )
    env.down()
    assert failure_logs(env) == "(no containers of shop-ci-x are left)"


def test_plugin_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help")
    result.stdout.fnmatch_lines(["*envkit_stack_file*", "*envkit_environment*", "*envkit_ttl*"])
    markers = pytester.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.envkit(env=None, *, stack=None*"])


def test_a_failing_test_gets_the_logs_of_the_instances_it_used(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The inner suite borrows fake_env from this module: its user fixture returns an
    # Environment on a FakeEngine, which the plugin finds among the test's fixtures.
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent), prepend=os.pathsep)
    pytester.makeconftest(
        """
        import pytest
        from test_pytest_plugin import fake_env

        @pytest.fixture(scope="session")
        def shop(tmp_path_factory):
            env, engine = fake_env(tmp_path_factory.mktemp("stack"))
            engine.set_state("shop-ci-x-db-1", "exited", exit_code=1)
            return env
        """
    )
    pytester.makepyfile(
        test_it="""
        def test_passes(shop):
            pass

        def test_fails(shop):
            assert False, "deliberately"

        def test_fails_without_envkit():
            assert False
        """,
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert out.count("envkit logs: shop-ci-x") == 1  # only the failing test that used it
    result.stdout.fnmatch_lines(
        [
            "*- envkit logs: shop-ci-x -*",
            "--- shop-ci-x-db-1 (exited, exit code 1) - last 20 lines ---",
            "db starting",
            "login with (sensitive)",
            "db: disk full",
            "--- shop-ci-x-web-1 (running) - logs left out: 'envkit logs' has them ---",
        ]
    )
    assert "hunter2-secret" not in out


def test_envkit_env_without_an_environment_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(envkit_env):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*envkit_env: no environment named; set envkit_environment*"])


def test_a_bad_marker_scope_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nenvkit_environment = ci\n")
    pytester.makepyfile(
        "import pytest\n\n@pytest.mark.envkit(scope='forever')\n"
        "def test_it(envkit_env):\n    pass\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*envkit: scope 'forever' is not one of session*"])

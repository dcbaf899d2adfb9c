"""The pytest plugin used by a small example suite, run by a pytest subprocess: instances
per scope, a failing test's report carrying the service's logs, nothing left afterwards —
and the watchdog removing the instance when that pytest is killed with SIGKILL.

Each test writes its own stack (``p<8 hex>``); everything labelled with it is removed
afterwards, even when the test fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envkit.model import LABEL

from .conftest import IMAGE
from .instance_checks import gone, remains, remove_stack, wait_until, web_stack

pytestmark = pytest.mark.engine


INI = """\
[pytest]
envkit_stack_file = envkit.yaml
envkit_environment = ci
envkit_ttl = 10m
"""

CONFTEST = """\
import json, os
from envkit.pytest_plugin import envkit_fixture

web = envkit_fixture("ci", scope="module")

def record(env):
    with open(os.environ["RECORD"], "a") as f:
        f.write(json.dumps({"project": env.project, "watchdog": env.watchdog.pid}) + "\\n")
"""

SUITE = """\
import socket, pytest
from conftest import record

def test_connects(envkit_env):
    record(envkit_env)
    host, port = envkit_env.port("web", 8000)
    socket.create_connection((host, port), timeout=5).close()

def test_shares_the_session_instance(envkit_env):
    record(envkit_env)
    assert envkit_env.status()["services"]["web"]["health"] == "healthy"

def test_fails(envkit_env):
    assert envkit_env.status()["services"]["web"]["state"] == "exited", "deliberately failing"

def test_module_fixture(web):
    record(web)
    socket.create_connection(web.port("web", 8000), timeout=5).close()
"""

SLEEPER = """\
import os, time
from conftest import record

def test_sleeps(envkit_env):
    record(envkit_env)
    open(os.environ["RECORD"] + ".ready", "w").close()
    time.sleep(600)
"""


@pytest.fixture
def suite(docker_client: Any, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    name = f"p{uuid.uuid4().hex[:8]}"
    (tmp_path / "envkit.yaml").write_text(web_stack(name, IMAGE, f"web-says-{name}"))
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    try:
        yield tmp_path, name
    finally:
        remove_stack(docker_client, name)


def inner_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["RECORD"] = str(tmp_path / "record.jsonl")
    env["ENVKIT_STATE_DIR"] = str(tmp_path / "state")
    env.pop("PYTEST_ADDOPTS", None)
    return env


def records(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "record.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


def test_example_suite_passes_fails_with_logs_and_leaves_nothing(
    suite: tuple[Path, str], docker_client: Any
) -> None:
    tmp_path, name = suite
    (tmp_path / "test_example.py").write_text(SUITE)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
        cwd=tmp_path,
        env=inner_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    assert "PASSED test_example.py::test_connects" in out
    assert "PASSED test_example.py::test_shares_the_session_instance" in out
    assert "PASSED test_example.py::test_module_fixture" in out
    assert "FAILED test_example.py::test_fails - AssertionError: deliberately failing" in out

    seen = records(tmp_path)
    session = {r["project"] for r in seen[:2]}
    module = {r["project"] for r in seen[2:]}
    assert len(seen) == 3 and len(session) == 1 and len(module) == 1 and session != module
    (project,) = session
    assert project.startswith(f"{name}-ci-")

    # The failing test's report carries the service's logs, under its own section.
    failures = out[out.index("= FAILURES =") : out.index("short test summary info")]
    section = failures[failures.index(f"envkit logs: {project}") :]
    assert f"--- {project}-web-1 (running, healthy) - last 20 lines ---" in section
    assert f"web-says-{name}" in section
    # ... and only the failing test's.
    assert out.count(f"envkit logs: {project}") == 1

    # Nothing of either instance remains; every watchdog stood down and exited.
    for p in session | module:
        assert remains(docker_client, p) == []
    assert docker_client.containers.list(all=True, filters={"label": f"{LABEL.STACK}={name}"}) == []
    assert all(gone(r["watchdog"]) for r in seen)
    logs = list((tmp_path / "state" / "watchdog").glob("*.log"))
    assert logs == [], [p.read_text() for p in logs]


def test_watchdog_removes_the_instance_when_pytest_is_killed(
    suite: tuple[Path, str], docker_client: Any
) -> None:
    tmp_path, _ = suite
    (tmp_path / "test_sleeper.py").write_text(SLEEPER)
    ready = tmp_path / "record.jsonl.ready"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)],
        cwd=tmp_path,
        env=inner_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(ready.exists, 120), "the inner test never brought its instance up"
        (record,) = records(tmp_path)
        project, watchdog = record["project"], record["watchdog"]
        assert remains(docker_client, project)  # up, with its network and volume
        assert not gone(watchdog)

        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert wait_until(lambda: remains(docker_client, project) == [], 20), remains(
        docker_client, project
    )
    assert wait_until(lambda: gone(watchdog), 20), f"watchdog {watchdog} still runs"
    (log,) = (tmp_path / "state" / "watchdog").glob(f"{project}.*.log")
    text = log.read_text()
    assert f"tearing down {project}" in text
    assert f"removed {project}: 1 container(s), 1 network(s), 2 volume(s)" in text, text


FAILING = """\
import pytest

def test_asks_for_a_port_it_does_not_publish(envkit_env):
    envkit_env.port("web", 9999)

MISSING = {
    "stack": "%s",
    "services": {"web": {"image": "envkit-test/absent:1", "pull_policy": "never"}},
}

@pytest.mark.envkit(env="default", stack=MISSING)
def test_needs_an_image_that_is_not_here(envkit_env):
    pass
"""

# What envkit's internals look like in a report: its own modules and the SDK's chained
# exceptions. None of them belongs in a user's failure report by default.
INTERNALS = ("envkit/api.py", "envkit/reconcile/", "site-packages/docker/", "direct cause")


def run_failing(tmp_path: Path, name: str, *extra: str) -> str:
    (tmp_path / "test_failing.py").write_text(FAILING % name)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *extra, str(tmp_path)],
        cwd=tmp_path,
        env=inner_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    return run.stdout


def test_an_envkit_error_is_reported_as_the_error_without_envkits_traceback(
    suite: tuple[Path, str],
) -> None:
    tmp_path, name = suite
    out = run_failing(tmp_path, name)
    report = out[out.index("= ERRORS =") : out.index("short test summary info")]
    # Setup failed in envkit: the error as the CLI prints it, its hint, and nothing else.
    setup = report[
        report.index("ERROR at setup of test_needs_an_image") : report.index("= FAILURES")
    ]
    assert "error[conflict]:" in setup and "envkit-test/absent:1" in setup
    assert "hint: " in setup
    assert "pytest --envkit-debug shows it" in setup
    assert len(setup.splitlines()) < 12, setup
    # The test's own call failed in envkit: the test's frame stays, envkit's go.
    call = report[report.index("_ test_asks_for_a_port_it_does_not_publish _") :]
    assert "error[no-such-port]:" in call and "does not publish 9999/tcp" in call
    assert "test_failing.py:4: in test_asks_for_a_port_it_does_not_publish" in call
    assert 'envkit_env.port("web", 9999)' in call
    assert f"envkit logs: {name}-ci-" in call  # the logs section stays
    for internal in INTERNALS:
        assert internal not in report, internal
    assert "Traceback" not in report and "raise " not in report
    # The summary line starts with the error, not with a frame (it is cut to the width).
    assert "ERROR test_failing.py::test_needs_an_image_that_is_not_here - error[" in out


def test_envkit_debug_shows_envkits_own_traceback(suite: tuple[Path, str]) -> None:
    tmp_path, name = suite
    out = run_failing(tmp_path, name, "--envkit-debug")
    assert "envkit/reconcile/" in out or "envkit/api.py" in out
    assert "envkit error" in out  # the error is still spelled out, as its own section
    assert "pytest --envkit-debug shows it" not in out

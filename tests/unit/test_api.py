"""The Python API on FakeEngine: load, up, port, logs, status, down, ephemeral — no Docker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import envkit
from envkit.api import Environment, Stack, load
from envkit.engine.fake import FakeEngine, Outcome
from envkit.errors import ApplyError, EnvkitError, StackError, UsageError
from envkit.model import LABEL
from envkit.reconcile.status import status_json

IMAGE = "busybox:test"

STACK = f"""\
stack: shop
environments:
  ci: {{}}
  other: {{vars: {{greeting: bonjour}}}}
vars:
  greeting: hello
services:
  db:
    image: {IMAGE}
    command: [sh, -c, "echo {{{{ greeting }}}}; sleep 3600"]
    ports: ["127.0.0.1::5432", "127.0.0.1::53/udp"]
    volumes: ["data:/var/lib/db"]
    healthcheck: {{test: [CMD, "true"], interval: 1s}}
  web:
    image: {IMAGE}
    ports: ["8000"]
    healthcheck: {{test: [CMD, "true"], interval: 1s}}  # wait=True: no 1 s settle on the fake
    depends_on: {{db: {{condition: service_healthy}}}}
volumes:
  data: {{}}
"""


@pytest.fixture
def engine() -> FakeEngine:
    eng = FakeEngine()
    eng.add_image(IMAGE)
    eng.outcomes["db"] = Outcome(logs="db ready\nlistening on 5432\n")
    eng.outcomes["web"] = Outcome(logs="web up\n")
    return eng


@pytest.fixture
def stack(tmp_path: Path, engine: FakeEngine) -> Stack:
    path = tmp_path / "envkit.yaml"
    path.write_text(STACK)
    return load(path, engine=engine)


def leftovers(engine: FakeEngine, project: str) -> list[str]:
    """Every object of ``project`` still on the engine."""
    found = [c.name for c in engine.containers.values() if c.labels.get(LABEL.PROJECT) == project]
    found += [n for n, labels in engine.networks.items() if labels.get(LABEL.PROJECT) == project]
    found += [n for n in engine.volumes if n.startswith(project)]
    return found


# -- load and render ------------------------------------------------------------------------


def test_load_reads_the_stack(stack: Stack, tmp_path: Path) -> None:
    assert stack.name == "shop"
    assert stack.environments == ("ci", "other")
    assert stack.path == str(tmp_path / "envkit.yaml")
    desired = stack.render("other", instance="x1")
    assert desired.project == "shop-other-x1"
    assert desired.service("db").command == ("sh", "-c", "echo bonjour; sleep 3600")
    assert stack.render("ci", vars={"greeting": "hi"}).service("db").command == (
        "sh",
        "-c",
        "echo hi; sleep 3600",
    )


def test_load_reports_a_bad_stack_file_as_stack_error(tmp_path: Path) -> None:
    path = tmp_path / "envkit.yaml"
    path.write_text("stack: shop\nservices:\n  db: {image: 5, bogus: 1}\n")
    with pytest.raises(StackError) as info:
        load(path, engine=FakeEngine())
    assert info.value.exit_code == 2
    assert all(d.origin is not None for d in info.value.diagnostics)


def test_load_of_a_missing_file_is_an_envkit_error(tmp_path: Path) -> None:
    with pytest.raises(EnvkitError):
        load(tmp_path / "nope.yaml", engine=FakeEngine())


def test_unknown_environment_is_a_stack_error_and_changes_nothing(
    stack: Stack, engine: FakeEngine
) -> None:
    with pytest.raises(StackError, match="unknown environment 'cj'"):
        stack.up("cj")
    assert engine.mutating_calls == []


@pytest.mark.parametrize("bad", ["UPPER", "-x", "a b", "", "x" * 64, "a/b"])
def test_invalid_instance_ids_are_refused(stack: Stack, engine: FakeEngine, bad: str) -> None:
    with pytest.raises(UsageError, match="is not a valid instance id") as info:
        stack.up("ci", instance=bad)
    assert info.value.code == "invalid-instance"
    assert engine.mutating_calls == []


@pytest.mark.parametrize("ttl", ["soon", "-1h", "0s", ""])
def test_a_bad_ttl_is_refused_before_anything_is_created(
    stack: Stack, engine: FakeEngine, ttl: str
) -> None:
    with pytest.raises(UsageError, match=r"^ttl "):
        stack.up("ci", ttl=ttl)
    assert engine.mutating_calls == []


# -- up and the handle ----------------------------------------------------------------------


def test_a_remote_engine_gives_its_host_for_wildcard_ports(tmp_path: Path) -> None:
    remote = FakeEngine(endpoint="tcp://build-box:2376")
    remote.add_image(IMAGE)
    path = tmp_path / "envkit.yaml"
    path.write_text(STACK)
    env = load(path, engine=remote).up("ci", instance="remote")
    assert env.port("web", 8000)[0] == "build-box"  # published on every interface
    assert env.port("db", 5432)[0] == "127.0.0.1"  # published on the engine's loopback
    env.down()


def test_up_port_logs_status_down(stack: Stack, engine: FakeEngine) -> None:
    env = stack.up("ci", instance="pr-7")
    assert isinstance(env, Environment)
    assert (env.project, env.stack, env.environment, env.instance) == (
        "shop-ci-pr-7",
        "shop",
        "ci",
        "pr-7",
    )
    assert env.services == ("db", "web")
    assert env.up_result is not None and env.up_result.plan.has_changes

    host, port = env.port("db", 5432)
    assert host == "127.0.0.1" and port >= 32768
    assert env.port("db", "5432") == (host, port) == env.port("db", "5432/tcp")
    udp = env.port("db", "53/udp")
    assert udp[0] == "127.0.0.1" and udp[1] != port
    # published on every interface: given as an address to connect to
    assert env.port("web", 8000)[0] == "127.0.0.1"
    assert (
        env.url("web", 8000, path="/health")
        == f"http://127.0.0.1:{env.port('web', 8000)[1]}/health"
    )

    assert env.logs("db") == "db ready\nlistening on 5432\n"
    assert env.logs("db", tail=1) == "listening on 5432\n"
    assert env.logs() == (  # several containers: prefixed like `envkit logs`
        "shop-ci-pr-7-db-1 | db ready\n"
        "shop-ci-pr-7-db-1 | listening on 5432\n"
        "shop-ci-pr-7-web-1 | web up\n"
    )

    status = env.status()
    assert status == status_json(env.project, "pr-7", env.containers())
    assert status["services"]["db"]["ports"]["5432/tcp"] == f"127.0.0.1:{port}"
    assert status["services"]["db"]["health"] == "healthy"
    json.dumps(status)  # JSON-able

    result = env.down()
    assert result.containers == ("shop-ci-pr-7-web-1", "shop-ci-pr-7-db-1")
    assert result.volumes == ("shop-ci-pr-7_data",)
    assert leftovers(engine, env.project) == []
    env.down()  # twice is fine


def test_up_twice_changes_nothing(stack: Stack, engine: FakeEngine) -> None:
    stack.up("ci", wait=False)
    engine.calls.clear()
    env = stack.up("ci", wait=False)
    assert engine.mutating_calls == []
    assert env.up_result is not None and not env.up_result.plan.has_changes


def test_down_can_keep_volumes(stack: Stack, engine: FakeEngine) -> None:
    env = stack.up("ci")
    env.down(volumes=False)
    assert leftovers(engine, env.project) == ["shop-ci_data"]


def test_ttl_stamps_an_expiry_on_every_container(stack: Stack, engine: FakeEngine) -> None:
    env = stack.up("ci", instance="t1", ttl="2h")
    assert env.expires is not None and env.expires.endswith("Z")
    stamps = {c.labels.get(LABEL.EXPIRES) for c in env.containers()}
    assert stamps == {env.expires}
    env.down()


def test_port_errors(stack: Stack) -> None:
    env = stack.up("ci")
    with pytest.raises(EnvkitError, match="does not publish 9999/tcp") as no_port:
        env.port("db", 9999)
    assert no_port.value.code == "no-such-port"
    with pytest.raises(UsageError, match="has no service 'cache'") as no_service:
        env.port("cache", 80)
    assert no_service.value.hint == "the services are: db, web"
    for bad in ("http", "80/tpc", 0, 70000):
        with pytest.raises(UsageError, match="is not a port"):
            env.port("db", bad)
    with pytest.raises(EnvkitError, match="no container for replica 2") as replica:
        env.port("db", 5432, replica=2)
    assert replica.value.code == "not-running"
    env.down()
    with pytest.raises(EnvkitError) as gone:
        env.port("db", 5432)
    assert gone.value.code == "not-running"


def test_context_manager_downs_on_exit(stack: Stack, engine: FakeEngine) -> None:
    with stack.up("ci", instance="cm") as env:
        assert leftovers(engine, env.project)
    assert leftovers(engine, env.project) == []


def test_attach_reads_an_instance_without_changing_it(stack: Stack, engine: FakeEngine) -> None:
    stack.up("ci", instance="a1")
    engine.calls.clear()
    env = stack.attach("ci", instance="a1")
    assert env.port("db", 5432)[1] >= 32768
    assert engine.mutating_calls == []
    env.down()


# -- ephemeral ------------------------------------------------------------------------------


def test_ephemeral_makes_a_unique_instance_and_removes_it(stack: Stack, engine: FakeEngine) -> None:
    with stack.ephemeral("ci") as one, stack.ephemeral("ci") as two:
        assert one.instance and two.instance and one.instance != two.instance
        assert one.project == f"shop-ci-{one.instance}"
        assert one.port("db", 5432) != two.port("db", 5432)
        assert one.expires is not None  # the default ttl: gc is the last resort
        assert one.watchdog is None  # an injected engine: no watchdog by default
    assert engine.containers == {} and engine.networks == {}
    assert leftovers(engine, one.project) == leftovers(engine, two.project) == []


def test_ephemeral_tears_down_when_the_block_raises(stack: Stack, engine: FakeEngine) -> None:
    with pytest.raises(RuntimeError, match="the test failed"), stack.ephemeral("ci") as env:
        assert env.status()["services"]["db"]["state"] == "running"
        raise RuntimeError("the test failed")
    assert leftovers(engine, env.project) == []
    assert engine.volumes == {}


def test_ephemeral_tears_down_on_keyboard_interrupt(stack: Stack, engine: FakeEngine) -> None:
    with pytest.raises(KeyboardInterrupt), stack.ephemeral("ci"):
        raise KeyboardInterrupt
    assert engine.containers == {} and engine.networks == {} and engine.volumes == {}


def test_ephemeral_tears_down_when_up_fails(stack: Stack, engine: FakeEngine) -> None:
    engine.outcomes["db"] = Outcome(health="unhealthy", logs="db: cannot open data dir\n")
    with pytest.raises(ApplyError), stack.ephemeral("ci", timeout=5):
        pytest.fail("the block must not run")
    assert engine.containers == {} and engine.networks == {} and engine.volumes == {}


def test_a_failed_teardown_does_not_hide_the_blocks_exception(
    stack: Stack, engine: FakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(container_id: str, **_: object) -> None:
        raise EnvkitError("engine fell over")

    with pytest.raises(RuntimeError, match="the test failed") as info, stack.ephemeral("ci"):
        monkeypatch.setattr(engine, "remove_container", broken)
        raise RuntimeError("the test failed")
    assert any("engine fell over" in note for note in info.value.__notes__)


def test_watchdog_needs_the_engine_of_the_environment(stack: Stack, engine: FakeEngine) -> None:
    with pytest.raises(UsageError, match="the watchdog needs the Docker engine"):
        stack.up("ci", watchdog=True)
    assert engine.mutating_calls == []


def test_engine_passed_to_up_overrides_the_stacks(stack: Stack, engine: FakeEngine) -> None:
    other = FakeEngine()
    other.add_image(IMAGE)
    env = stack.up("ci", engine=other)
    assert env.engine is other and engine.mutating_calls == []
    assert other.containers
    env.down()


# -- the package ----------------------------------------------------------------------------


def test_package_exports_the_api_lazily() -> None:
    assert envkit.__all__ == sorted(envkit.__all__)
    assert envkit.load is load and envkit.Stack is Stack and envkit.Environment is Environment
    with pytest.raises(AttributeError):
        _ = envkit.nothing_here  # type: ignore[attr-defined]
    code = (
        "import sys, envkit; assert 'envkit.api' not in sys.modules; envkit.load;"
        "assert 'docker' not in sys.modules, 'docker imported before an engine call'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_py_typed_is_shipped() -> None:
    assert (Path(envkit.__file__).parent / "py.typed").is_file()

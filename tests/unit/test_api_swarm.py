"""The Python API on an environment whose engine is a Swarm: what does not apply there
(watchdog, an engine passed in, wait=False) is refused before anything connects, with a
hint; the deploy itself is proved on the cluster (tests/cluster/test_swarm_ops.py)."""

from __future__ import annotations

import pytest

import envkit
from envkit.engine.fake import FakeEngine
from envkit.errors import UsageError

STACK = """\
stack: s
environments:
  dev: {}
  cluster: {engine: {swarm: "unix:///nonexistent/manager.sock"}}
services:
  web: {image: busybox}
"""


@pytest.mark.parametrize(
    ("call", "named", "hint"),
    [
        (lambda s: s.up("cluster", watchdog=True), "watchdog does not apply", "with block"),
        (lambda s: s.up("cluster", wait=False), "wait=False does not apply", "wait=True"),
        (lambda s: s.up("cluster", engine=FakeEngine()), "an engine given", "leave engine out"),
        (lambda s: s.ephemeral("cluster", watchdog=True).__enter__(), "watchdog", "with block"),
    ],
)
def test_what_does_not_apply_on_a_swarm_is_refused(call, named: str, hint: str) -> None:  # type: ignore[no-untyped-def]
    stack = envkit.loads(STACK)
    with pytest.raises(UsageError) as caught:
        call(stack)
    assert caught.value.code == "swarm-environment"
    assert (
        named in caught.value.message
        and "environment cluster is on a Swarm" in caught.value.message
    )
    assert hint in (caught.value.hint or "")


def test_a_stack_loaded_with_an_engine_refuses_its_swarm_environment() -> None:
    engine = FakeEngine()
    engine.add_image("busybox")
    stack = envkit.loads(STACK, engine=engine)
    stack.up("dev")  # the container environment uses the engine given
    with pytest.raises(UsageError, match="an engine given to load"):
        stack.attach("cluster")


def test_attach_names_the_manager_without_connecting() -> None:
    env = envkit.loads(STACK).attach("cluster")
    assert repr(env) == "<envkit.SwarmEnvironment s-cluster on unix:///nonexistent/manager.sock>"
    assert isinstance(env, envkit.Environment) and env.services == ("web",)
    for refused in (lambda: env.engine, lambda: env.port("web", 80), lambda: env.containers(),
                    lambda: env.exec("web", "true"), lambda: env.url("web", 80)):  # fmt: skip
        with pytest.raises(UsageError) as caught:
            refused()
        assert caught.value.code == "swarm-environment" and caught.value.hint


def test_logs_with_a_node_down_keep_what_was_read_and_name_what_was_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """env.logs() reads a service with a task on a node that is down task by task (the
    manager's service log would wait for that node), and says which task it could not
    read, with the lines it read as the error's detail."""
    from envkit.engine.swarm_base import ObservedService, ObservedSwarm, ObservedTask
    from envkit.errors import EngineError
    from envkit.swarm_env import SwarmEnvironment

    tasks = (
        ObservedTask("t1", "s1", "envkit-n1", "running", "running", 4, slot=1),
        ObservedTask("t3", "s1", "envkit-n3", "running", "running", 4, slot=3, node_ready=False),
    )
    asked: list[tuple[str, str]] = []

    class Manager:
        def observe_swarm(self, project: str) -> ObservedSwarm:
            return ObservedSwarm(project, (ObservedService("s1", project + "_web", "web", 4,
                                                           tasks=tasks),))  # fmt: skip

        def read_logs(self, kind, object_id, options, *, follow=False, engine_said):  # type: ignore[no-untyped-def]
            asked.append((kind, object_id))
            yield b"com.docker.swarm.task.id=t1 hello from n1\n"

        def close(self) -> None:
            pass

    monkeypatch.setattr(SwarmEnvironment, "_manager", lambda self: Manager())
    env = envkit.loads(STACK).attach("cluster")
    assert isinstance(env, SwarmEnvironment)
    with pytest.raises(EngineError) as caught:
        env.logs("web")
    assert asked == [("task", "t1")]  # never the service read, never the lost node's task
    assert caught.value.code == "logs-incomplete"
    assert "web.3@envkit-n3 is on a node that is down" in caught.value.message
    assert caught.value.detail == "web.1@envkit-n1 | hello from n1\n"

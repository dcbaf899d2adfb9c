"""The monitor window envkit watches itself after a create, recreate or scale
(envkit.reconcile.swarm_apply._watch_windows), on a stand-in manager that answers
``service()`` from scripted observations."""

from __future__ import annotations

import time
from typing import Any

import pytest

from envkit.engine.swarm_base import ObservedService, ObservedTask
from envkit.errors import ApplyError
from envkit.reconcile.swarm_apply import _watch_windows, _Window


class Manager:
    """Each service() call returns the next scripted task list (the last one repeats)."""

    def __init__(self, script: dict[str, list[tuple[ObservedTask, ...]]]) -> None:
        self.script = script
        self.calls: dict[str, int] = {}

    def service(self, name: str) -> ObservedService | None:
        n = self.calls.get(name, 0)
        self.calls[name] = n + 1
        steps = self.script[name]
        return ObservedService("id-" + name, name, name.split("_")[-1], 4,
                               tasks=steps[min(n, len(steps) - 1)])  # fmt: skip

    def task_logs(self, task_id: str, lines: int) -> list[str]:
        return [f"last words of {task_id}"]

    def __getattr__(self, name: str) -> Any:  # nothing else may be called
        raise AssertionError(f"unexpected call: {name}")


RUNNING = (ObservedTask("ok1", "sid", "n1", "running", "running", 4),)
OLD_FAILURE = ObservedTask("old", "sid", "n2", "failed", "shutdown", 4, error="earlier")


def test_windows_run_together_and_pass_when_no_task_fails() -> None:
    manager = Manager({"p_a": [(*RUNNING, OLD_FAILURE)], "p_b": [RUNNING]})
    windows = [_Window("a", "p_a", 0.6, frozenset({"old"})), _Window("b", "p_b", 0.6, frozenset())]
    said: list[str] = []
    start = time.monotonic()
    _watch_windows(manager, windows, said.append)
    took = time.monotonic() - start
    assert 0.6 <= took < 1.1  # together, not one after the other (1.2 s)
    assert said == [
        "  a: watching its tasks for the monitor window (0.6 s)",
        "  b: watching its tasks for the monitor window (0.6 s)",
    ]


def test_a_task_failing_inside_the_window_raises_with_its_error_and_logs() -> None:
    died = ObservedTask(
        "new1", "sid", "n3", "failed", "shutdown", 4, error="task: non-zero exit (3)"
    )
    manager = Manager({"p_a": [RUNNING, RUNNING, (*RUNNING, died)]})
    with pytest.raises(ApplyError) as caught:
        _watch_windows(manager, [_Window("a", "p_a", 5, frozenset())], lambda _: None)
    err = caught.value
    assert (
        err.message == "service a failed inside its monitor window (5 s): task: non-zero exit (3)"
    )
    assert "last words of new1" in (err.detail or "") and err.code == "swarm-update-failed"
    assert manager.calls["p_a"] == 3  # it was seen on the third look, well inside 5 s


def _global_service() -> Any:
    from envkit.model import ServiceSpec
    from envkit.swarm_model import Deploy, DeployMode, SwarmService

    return SwarmService(ServiceSpec("agent", "busybox"), Deploy(mode=DeployMode.GLOBAL))


def test_a_global_service_with_no_task_yet_has_not_converged() -> None:
    """Right after a create the orchestrator may not have made the tasks of a global
    service yet: 0 running of 0 is not converged (it returned at once before)."""
    from types import SimpleNamespace

    from envkit.reconcile.swarm_apply import _converge

    on_two = (
        ObservedTask("g1", "sid", "n1", "running", "running", 4),
        ObservedTask("g2", "sid", "n2", "starting", "running", 4),
    )
    both = (on_two[0], ObservedTask("g2", "sid", "n2", "running", "running", 4))
    manager = Manager({"p_agent": [(), (), on_two, both]})
    stack = SimpleNamespace(project="p")
    said: list[str] = []
    _converge(manager, stack, _global_service(), time.monotonic() + 10, said.append)  # type: ignore[arg-type]
    assert manager.calls["p_agent"] == 4  # empty, empty, one starting, both running
    assert said == ["  agent: converged"]

"""Which service version a Swarm task was made for, from the engine's JSON: Engine 23+ says
(``SpecVersion``); Engine 20.10 does not, and the task's container spec tells."""

from __future__ import annotations

from typing import Any

from envkit.engine.swarm import _task_version

CONTAINER = {"Image": "busybox", "Env": ["MODE=b"], "Isolation": "default"}
SERVICE: dict[str, Any] = {
    "Version": {"Index": 12},
    "Spec": {
        "TaskTemplate": {"ContainerSpec": CONTAINER, "ForceUpdate": 0, "Runtime": "container"}
    },
}


def test_spec_version_when_the_engine_gives_it() -> None:
    assert _task_version({"SpecVersion": {"Index": 9}, "Spec": {}}, SERVICE) == 9


def test_a_task_of_the_current_container_spec_is_current() -> None:
    task = {"Spec": {"ContainerSpec": dict(CONTAINER), "ForceUpdate": 0}}  # no Runtime
    assert _task_version(task, SERVICE) == 12


def test_a_task_of_another_container_spec_or_force_update_is_older() -> None:
    old = {"Spec": {"ContainerSpec": {**CONTAINER, "Env": ["MODE=a"]}, "ForceUpdate": 0}}
    forced = {"Spec": {"ContainerSpec": dict(CONTAINER), "ForceUpdate": 1}}
    assert _task_version(old, SERVICE) == 0
    assert _task_version(forced, SERVICE) == 0


def test_unknown_without_specs() -> None:
    assert _task_version({}, SERVICE) is None

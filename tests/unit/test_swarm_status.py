"""The status of a Swarm stack as data (envkit.reconcile.swarm_status), from observed services
built by hand: replicas, states, task order and errors, ports, and log-line details."""

from __future__ import annotations

from typing import Any

from envkit.engine.swarm_base import ObservedService, ObservedSwarm, ObservedTask, PublishedPort
from envkit.reconcile.swarm_status import (
    service_rows,
    service_state,
    split_details,
    swarm_status_json,
    task_rows,
)


def _task(tid: str, slot: int | None, node: str, state: str, desired: str = "running",
          error: str = "", created: str = "2026-01-01T00:00:01Z") -> ObservedTask:  # fmt: skip
    return ObservedTask(tid, "sid", node, state, desired, 3, error=error, slot=slot,
                        created=created)  # fmt: skip


def _service(name: str, mode: dict[str, Any], tasks: tuple[ObservedTask, ...],
             update: str = "", ports: tuple[PublishedPort, ...] = ()) -> ObservedService:  # fmt: skip
    return ObservedService(f"id-{name}", f"p_{name}", name, 3, tasks=tasks,
                           engine_spec={"Mode": mode}, update_state=update, ports=ports)  # fmt: skip


WEB = _service(
    "web",
    {"Replicated": {"Replicas": 2}},
    (
        _task("old2aaaaaaaaaaaa", 2, "n1", "failed", "shutdown", "task: non-zero exit (3)",
              "2026-01-01T00:00:00Z"),
        _task("new2aaaaaaaaaaaa", 2, "n2", "running", created="2026-01-01T00:00:05Z"),
        _task("one1aaaaaaaaaaaa", 1, "n3", "running"),
    ),
    ports=(PublishedPort(8080, 20080, "tcp", "host"),),
)  # fmt: skip
AGENT = _service("agent", {"Global": {}}, (_task("ag1", None, "n1", "running"),
                                           _task("ag2", None, "n2", "pending")))  # fmt: skip


def test_the_document_keeps_the_status_shape_and_says_swarm() -> None:
    doc = swarm_status_json(ObservedSwarm("p", (WEB, AGENT)), None)
    assert list(doc) == ["format_version", "engine", "project", "instance", "expires", "services"]
    assert (doc["format_version"], doc["engine"], doc["project"]) == (1, "swarm", "p")
    web = doc["services"]["web"]
    assert web["replicas"] == {"desired": 2, "running": 2} and web["state"] == "running"
    assert web["ports"] == {"8080/tcp": "0.0.0.0:20080"} and web["port_modes"] == {
        "8080/tcp": "host"
    }
    # by replica, the current task before the failed one it replaced
    assert [(t["slot"], t["state"], t["error"]) for t in web["tasks"]] == [
        (1, "running", None),
        (2, "running", None),
        (2, "failed", "task: non-zero exit (3)"),
    ]
    agent = doc["services"]["agent"]
    assert agent["mode"] == "global" and agent["replicas"] == {"desired": 2, "running": 1}
    assert agent["state"] == "starting" and agent["update"] is None


def test_states_name_updates_rollbacks_and_missing_tasks() -> None:
    one = {"Replicated": {"Replicas": 1}}
    assert service_state(_service("a", one, (), update="updating")) == "updating"
    assert service_state(_service("a", one, (), update="rollback_started")) == "rolling back"
    assert service_state(_service("a", one, (), update="paused")) == "update paused"
    failed = (_task("t", 1, "n1", "failed", "shutdown", "boom"),)
    assert service_state(_service("a", one, failed)) == "degraded"
    job = {"ReplicatedJob": {"TotalCompletions": 2}}
    done = (
        _task("a", 1, "n1", "complete", "complete"),
        _task("b", 2, "n2", "complete", "complete"),
    )
    assert service_state(_service("j", job, done)) == "complete"
    assert service_state(_service("j", job, done[:1])) == "running"


def test_the_tables_show_replicas_ports_and_task_errors() -> None:
    observed = ObservedSwarm("p", (WEB,))
    services = service_rows(observed)
    assert services[1] == ("web", "replicated", "2/2", "running", "20080->8080/tcp (host)")
    tasks = task_rows(observed)
    assert tasks[0] == ("TASK", "SERVICE", "NODE", "DESIRED", "STATE", "ERROR")
    assert tasks[3] == ("web.2", "web", "n1", "shutdown", "failed", "task: non-zero exit (3)")


def test_log_details_give_the_task_and_are_taken_off_the_line() -> None:
    details = "com.docker.swarm.node.id=n,com.docker.swarm.service.id=s,com.docker.swarm.task.id=T1"
    assert split_details(f"{details} hello world", timestamps=False) == ("T1", "hello world")
    stamped = f"2026-01-01T00:00:00.1Z {details} hi"
    assert split_details(stamped, timestamps=True) == ("T1", "2026-01-01T00:00:00.1Z hi")
    assert split_details(f"{details} ", timestamps=False) == ("T1", "")
    assert split_details("plain line", timestamps=False) == ("", "plain line")
    assert split_details("a=b no task", timestamps=False) == ("", "a=b no task")

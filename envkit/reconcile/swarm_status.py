"""What a Swarm stack runs, as data: the status document of ``envkit ps ENV --json`` for an
environment on a Swarm (and the Python API's ``Environment.status()`` there), the rows of
``envkit ps ENV``, and the reading of a service log line's details.

Pure: it reads :class:`~envkit.engine.swarm_base.ObservedSwarm` values.

The document keeps the shape family of the one-engine document (``envkit.reconcile.status``:
``format_version``, ``project``, ``instance``, ``services: {name: {state, ports}}``) and says
``"engine": "swarm"``; a service lists its ``tasks`` where one engine lists ``containers``::

    {"format_version": 1, "engine": "swarm", "project": "web-dev", "instance": null,
     "expires": null,
     "services": {"web": {"mode": "replicated", "state": "running",
                          "replicas": {"desired": 3, "running": 3},
                          "update": {"state": "completed", "message": "update completed"},
                          "ports": {"8080/tcp": "0.0.0.0:8080"},
                          "port_modes": {"8080/tcp": "host"},
                          "tasks": [{"id", "slot", "node", "state", "desired_state",
                                     "error", "version"}]}}}

``update`` is null when the service was never updated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from envkit.engine.swarm_base import ObservedService, ObservedSwarm, ObservedTask
from envkit.errors import EngineError
from envkit.reconcile.status import STATUS_FORMAT_VERSION, address

__all__ = [
    "LogSource",
    "desired_count",
    "incomplete_logs",
    "log_sources",
    "service_mode",
    "service_rows",
    "service_state",
    "split_details",
    "swarm_status_json",
    "task_rows",
]

_MODES = {
    "Replicated": "replicated",
    "Global": "global",
    "ReplicatedJob": "replicated-job",
    "GlobalJob": "global-job",
}
_IN_FLIGHT = {"updating": "updating", "rollback_started": "rolling back"}
_STOPPED = {"paused": "update paused", "rollback_paused": "rollback paused"}


def service_mode(s: ObservedService) -> str:
    mode = s.engine_spec.get("Mode")
    for key, name in _MODES.items():
        if isinstance(mode, Mapping) and key in mode:
            return name
    return "replicated"


def desired_count(s: ObservedService) -> int:
    """Replicas (or completions) wanted; for a global service, the tasks Swarm assigned."""
    mode = s.engine_spec.get("Mode")
    mode = mode if isinstance(mode, Mapping) else {}
    if isinstance(mode.get("Replicated"), Mapping):
        return int(mode["Replicated"].get("Replicas", 1))
    if isinstance(mode.get("ReplicatedJob"), Mapping):
        return int(mode["ReplicatedJob"].get("TotalCompletions", 1))
    return len({t.node for t in s.tasks if t.desired_state in ("running", "complete")})


def _running(s: ObservedService) -> int:
    if service_mode(s).endswith("job"):
        return sum(1 for t in s.tasks if t.state == "complete")
    return sum(1 for t in s.tasks if t.state == "running" and t.desired_state == "running")


def service_state(s: ObservedService) -> str:
    """running | complete | starting | updating | rolling back | update paused |
    rollback paused | degraded (fewer tasks than wanted, none on their way)."""
    if s.update_state in _IN_FLIGHT:
        return _IN_FLIGHT[s.update_state]
    if s.update_state in _STOPPED:
        return _STOPPED[s.update_state]
    wanted, running = desired_count(s), _running(s)
    if service_mode(s).endswith("job"):
        return "complete" if running >= wanted else "running"
    if running >= wanted:
        return "running"
    starting = any(
        t.desired_state == "running" and t.state in ("new", "pending", "assigned", "accepted",
                                                     "preparing", "ready", "starting")
        for t in s.tasks
    )  # fmt: skip
    return "starting" if starting else "degraded"


def _ordered(tasks: tuple[ObservedTask, ...]) -> list[ObservedTask]:
    """By replica, the current task first, then newest first (like ``docker service ps``)."""
    newest = sorted(tasks, key=lambda t: t.created, reverse=True)
    return sorted(
        newest, key=lambda t: (t.slot if t.slot is not None else 0, t.node if t.slot is None
                               else "", t.desired_state != "running")
    )  # fmt: skip


def _ports(s: ObservedService) -> tuple[dict[str, str], dict[str, str]]:
    ports: dict[str, str] = {}
    modes: dict[str, str] = {}
    for p in s.ports:
        key = f"{p.target}/{p.protocol}"
        ports.setdefault(key, address("", p.published))
        modes.setdefault(key, p.mode)
    return ports, modes


def _task(t: ObservedTask) -> dict[str, Any]:
    return {
        "id": t.id[:12],
        "slot": t.slot,
        "node": t.node or None,
        "state": t.state,
        "desired_state": t.desired_state,
        "error": t.error or None,
        "version": t.spec_version,
    }


def swarm_status_json(
    observed: ObservedSwarm, instance: str | None, expires: str | None = None
) -> dict[str, Any]:
    services: dict[str, Any] = {}
    for s in sorted(observed.services, key=lambda s: s.service or s.name):
        ports, modes = _ports(s)
        update = (
            {"state": s.update_state, "message": s.update_message or None}
            if s.update_state
            else None
        )
        services[s.service or s.name] = {
            "mode": service_mode(s),
            "state": service_state(s),
            "replicas": {"desired": desired_count(s), "running": _running(s)},
            "update": update,
            "ports": ports,
            "port_modes": modes,
            "tasks": [_task(t) for t in _ordered(s.tasks)],
        }
    return {
        "format_version": STATUS_FORMAT_VERSION,
        "engine": "swarm",
        "project": observed.project,
        "instance": instance,
        "expires": expires,
        "services": services,
    }


def service_rows(observed: ObservedSwarm) -> list[tuple[str, ...]]:
    """``envkit ps ENV``'s service table, header first."""
    rows: list[tuple[str, ...]] = [("SERVICE", "MODE", "REPLICAS", "STATE", "PORTS")]
    for s in sorted(observed.services, key=lambda s: s.service or s.name):
        shown = ", ".join(f"{p.published}->{p.target}/{p.protocol} ({p.mode})" for p in s.ports)
        rows.append(
            (
                s.service or s.name,
                service_mode(s),
                f"{_running(s)}/{desired_count(s)}",
                service_state(s),
                shown or "-",
            )
        )
    return rows


def task_rows(observed: ObservedSwarm) -> list[tuple[str, ...]]:
    """``envkit ps ENV``'s task table (every task Swarm still keeps), header first."""
    rows: list[tuple[str, ...]] = [("TASK", "SERVICE", "NODE", "DESIRED", "STATE", "ERROR")]
    for s in sorted(observed.services, key=lambda s: s.service or s.name):
        name = s.service or s.name
        for t in _ordered(s.tasks):
            task = f"{name}.{t.slot}" if t.slot is not None else f"{name}.{t.id[:12]}"
            rows.append((task, name, t.node or "-", t.desired_state, t.state, t.error or "-"))
    return rows


def split_details(line: str, *, timestamps: bool) -> tuple[str, str]:
    """``(task id, the line without the details)`` of a service log line read with details:
    ``[TIMESTAMP ]com.docker.swarm.node.id=..,com.docker.swarm.service.id=..,
    com.docker.swarm.task.id=ID TEXT``. A line without details is ``("", line)``."""
    stamp = ""
    rest = line
    if timestamps:
        stamp, sep, rest = line.partition(" ")
        if not sep:
            return "", line
    details, sep, text = rest.partition(" ")
    if "=" not in details:
        return "", line
    task = ""
    for item in details.split(","):
        key, _, value = item.partition("=")
        if key == "com.docker.swarm.task.id":
            task = value
    if not task:
        return "", line
    text = text if sep else ""
    return task, f"{stamp} {text}" if stamp else text


@dataclass(frozen=True, slots=True)
class LogSource:
    """One log read: a whole service, or one of its tasks."""

    service: ObservedService
    kind: Literal["service", "task"]
    id: str


def log_sources(
    services: list[ObservedService],
) -> tuple[list[LogSource], list[ObservedTask]]:
    """Where to read the logs of ``services``: one read per service, but a service with a
    task on a node that is down is read task by task from the nodes that are up. (The
    manager's service log waits for every node that holds one of the service's tasks, so
    one node it has lost holds the whole read until the socket times out; a task's own
    log on a node that is up answers at once.) Also returns the tasks left unread."""
    sources: list[LogSource] = []
    unread: list[ObservedTask] = []
    for s in services:
        if all(t.node_ready or not t.node for t in s.tasks):
            sources.append(LogSource(s, "service", s.id))
            continue
        for t in s.tasks:
            if t.node and t.node_ready:
                sources.append(LogSource(s, "task", t.id))
            elif t.node:
                unread.append(t)
    return sources, unread


def incomplete_logs(
    said: Sequence[str], unread: Sequence[str] = (), *, read: str | None = None
) -> EngineError:
    """The logs are not all there: the tasks on nodes that are down (``unread``, by name)
    and what the manager said (most often a node whose log session with it is down).
    ``read``: the lines that were read, kept as the error's detail (the Python API, which
    has no stream to print them to first)."""
    reasons = [f"{name} is on a node that is down" for name in unread] + list(said)
    return EngineError(
        "the Swarm manager could not read every log: " + "; ".join(reasons),
        code="logs-incomplete",
        detail=read,
        hint="what it could read is shown. A node's log session comes back seconds after "
        "the node reconnects; if it stays down while the node is Ready, restart the docker "
        "engine on that node (moby/moby#35011)",
    )

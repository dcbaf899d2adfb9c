"""The Swarm side of the engine boundary: what envkit observes of a stack's services, and the
narrow :class:`ServiceOrchestrator` protocol that ``envkit.engine.swarm.SwarmEngine`` implements.

Observed values are frozen data parsed from the engine's JSON, so the Swarm planner (pure)
consumes them and tests build them by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from envkit.engine.base import LogOptions

__all__ = [
    "ObservedService",
    "ObservedSwarm",
    "ObservedSwarmObject",
    "ObservedTask",
    "PublishedPort",
    "ServiceOrchestrator",
]


@dataclass(frozen=True, slots=True)
class PublishedPort:
    target: int
    published: int
    protocol: str = "tcp"
    mode: str = "ingress"  # ingress | host


@dataclass(frozen=True, slots=True)
class ObservedTask:
    id: str
    service_id: str
    node: str  # the node's hostname ("" when not yet assigned)
    state: str  # running | starting | pending | failed | shutdown | complete | rejected ...
    desired_state: str  # running | shutdown | complete
    spec_version: int | None  # the service version the task was made for (None: unknown)
    error: str = ""  # Status.Err
    message: str = ""  # Status.Message
    container_id: str = ""
    exit_code: int | None = None
    node_ready: bool = True  # the node is up and reachable (Status.State == ready)
    slot: int | None = None  # a replicated service's replica number (None: global, job)
    ports: tuple[PublishedPort, ...] = ()  # host-mode ports this task published
    created: str = ""  # RFC 3339 (CreatedAt)


@dataclass(frozen=True, slots=True)
class ObservedService:
    id: str
    name: str  # engine name: {project}_{service}
    service: str  # io.envkit.service
    version: int  # Version.Index: the next update must send it
    labels: Mapping[str, str] = field(default_factory=dict)
    spec: Mapping[str, Any] = field(default_factory=dict)  # parsed io.envkit.spec ({} if corrupt)
    update_state: str = ""  # UpdateStatus.State: updating | completed | paused |
    # rollback_started | rollback_paused | rollback_completed | ""
    update_message: str = ""
    tasks: tuple[ObservedTask, ...] = ()
    engine_spec: Mapping[str, Any] = field(default_factory=dict, repr=False)  # Spec as read
    previous_spec: Mapping[str, Any] | None = field(default=None, repr=False)
    ports: tuple[PublishedPort, ...] = ()  # Endpoint.Ports: what the service published


@dataclass(frozen=True, slots=True)
class ObservedSwarmObject:
    id: str
    name: str
    kind: str  # network | secret | config
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ObservedSwarm:
    project: str
    services: tuple[ObservedService, ...] = ()
    objects: tuple[ObservedSwarmObject, ...] = ()  # this project's networks, secrets, configs
    nodes_down: tuple[str, ...] = ()  # hostnames of nodes not ready


class ServiceOrchestrator(Protocol):
    """What the Swarm verbs need of a Swarm manager."""

    def observe_swarm(self, project: str) -> ObservedSwarm: ...

    def service(self, name: str) -> ObservedService | None: ...

    def image_digests(self, refs: list[str]) -> dict[str, str | None]: ...

    def create_network(self, name: str, spec: Mapping[str, Any]) -> str: ...

    def create_object(
        self, kind: str, name: str, data: bytes, labels: Mapping[str, str]
    ) -> str: ...

    def remove_object(self, kind: str, object_id: str) -> None: ...

    def create_service(self, spec: Mapping[str, Any]) -> str: ...

    def update_service(
        self, service_id: str, version: int, spec: Mapping[str, Any], *, rollback: bool = False
    ) -> None: ...

    def remove_service(self, service_id: str) -> None: ...

    def task_logs(self, task_id: str, lines: int) -> list[str]: ...

    def read_logs(
        self,
        kind: Literal["service", "task"],
        object_id: str,
        options: LogOptions,
        *,
        follow: bool = False,
        engine_said: Callable[[str], None],
    ) -> Iterator[bytes]:
        """A service's (or one task's) log lines, each ``[TIMESTAMP ]DETAILS TEXT``
        (DETAILS: the engine's ``com.docker.swarm.task.id=...`` list), as they come when
        ``follow``; what the manager says about the stream (logs it could not read) goes
        to ``engine_said``."""
        ...

    def containers_left(self, service_names: list[str]) -> int: ...

    def config_data(self, config_id: str) -> bytes: ...

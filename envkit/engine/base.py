"""The engine boundary: what envkit observes and the operations apply needs.

Observed values are frozen data parsed from the engine's JSON, so the planner (pure) can
consume them and tests can build them by hand. :class:`Engine` is the one interface apply
talks to; ``envkit.engine.docker.DockerEngine`` implements it with the docker SDK.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from envkit.model import DesiredState, NetworkSpec, ServiceSpec

__all__ = [
    "ContainerStatus",
    "Engine",
    "ImageInfo",
    "ObservedContainer",
    "ObservedNetwork",
    "ObservedState",
    "ObservedVolume",
    "PortBinding",
    "PortUse",
]


@dataclass(frozen=True, slots=True)
class PortBinding:
    """A published port as the engine reports it."""

    target: int
    protocol: str
    host_ip: str
    host_port: int


@dataclass(frozen=True, slots=True)
class ObservedContainer:
    id: str
    name: str
    project: str
    service: str
    replica: int
    spec_hash: str
    spec: Mapping[str, Any]  # parsed io.envkit.spec label ({} when missing/corrupt)
    image_id: str  # sha256:...
    state: str  # created | running | paused | restarting | exited | dead
    health: str | None = None  # starting | healthy | unhealthy | None (no healthcheck)
    ports: tuple[PortBinding, ...] = ()
    exit_code: int | None = None  # for exited containers, when the engine says
    labels: Mapping[str, str] = field(default_factory=dict)
    created: str = ""  # RFC 3339
    # Every volume mounted, as (target path, volume name): named and anonymous alike.
    volume_mounts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ObservedNetwork:
    id: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    created: str = ""  # RFC 3339, when the engine says (list_networks)


@dataclass(frozen=True, slots=True)
class ObservedVolume:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    created: str = ""  # RFC 3339, when the engine says (list_volumes)


@dataclass(frozen=True, slots=True)
class PortUse:
    """A host port that something other than this project holds."""

    host_ip: str
    host_port: int
    protocol: str
    owner: str  # "container NAME (project P)" or "a process on the host"


@dataclass(frozen=True, slots=True)
class ObservedState:
    """What the engine has for one project, plus what plan needs to know around it."""

    project: str
    containers: tuple[ObservedContainer, ...] = ()  # carrying io.envkit.project=project
    networks: tuple[ObservedNetwork, ...] = ()  # envkit-labelled, this project
    volumes: tuple[ObservedVolume, ...] = ()  # envkit-labelled, this project
    # image reference -> local image id (None when the image is not present locally)
    images: Mapping[str, str | None] = field(default_factory=dict)
    # Names the desired state wants that exist WITHOUT this project's labels:
    # name -> "container" | "network" | "volume".
    foreign_names: Mapping[str, str] = field(default_factory=dict)
    # Host ports wanted by the desired state that something else holds.
    ports_in_use: tuple[PortUse, ...] = ()


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """A local image: what a bundle's manifest records about it."""

    id: str  # sha256:...
    tags: tuple[str, ...]
    size: int  # bytes, uncompressed


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    state: str
    health: str | None
    exit_code: int | None
    health_log: tuple[str, ...] = ()  # last probe outputs


class Engine(Protocol):
    """Everything apply and the CLI need from an engine. Implementations translate their
    own exceptions into ``envkit.errors.EngineError`` (naming the object and operation)."""

    def observe(self, desired: DesiredState) -> ObservedState: ...

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ObservedContainer]: ...

    def ensure_image(self, spec: ServiceSpec, on_output: Any = None) -> str:
        """Make the service's image present per its pull_policy/build; return its id."""
        ...

    def refresh_image(self, spec: ServiceSpec, on_output: Any = None) -> str:
        """Pull the service's image now (pull_policy always: before planning, so the plan
        compares with the registry's current image); return its id."""
        ...

    def create_network(
        self, name: str, labels: Mapping[str, str], spec: NetworkSpec | None = None
    ) -> None:
        """Create a network: a plain bridge, or as ``spec`` says (driver, ipam...)."""
        ...

    def remove_network(self, name: str) -> None: ...

    def create_volume(
        self,
        name: str,
        labels: Mapping[str, str],
        driver: str = "local",
        driver_opts: Mapping[str, str] | None = None,
    ) -> None: ...

    def remove_volume(self, name: str) -> None: ...

    def create_container(
        self,
        desired: DesiredState,
        spec: ServiceSpec,
        replica: int,
        labels: Mapping[str, str],
        carried: tuple[tuple[str, str], ...] = (),
    ) -> str:
        """Create (not start) the container ``{project}-{service}-{replica}``; return its id.
        Its anonymous volumes (bare ``/data`` mounts, the image's ``VOLUME`` paths) are the
        ``carried`` volumes ``(target, name)`` of the container it replaces, or new volumes
        labelled ``io.envkit.anonymous`` and with the project's labels."""
        ...

    def start_container(self, container_id: str) -> None: ...

    def stop_container(self, container_id: str, timeout_s: float) -> None: ...

    def remove_container(self, container_id: str, *, volumes: bool = False) -> None:
        """Force-remove a container. Its volumes stay (as in Compose) unless ``volumes``,
        which removes the anonymous volumes Docker made for it."""
        ...

    def status(self, container_id: str) -> ContainerStatus: ...

    def logs(self, container_id: str, tail: int | None = None) -> str: ...

    def follow_logs(self, container_id: str) -> Iterator[bytes]: ...

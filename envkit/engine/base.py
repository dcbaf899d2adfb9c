"""The engine boundary: what envkit observes and the operations it needs, as narrow protocols.

Observed values are frozen data parsed from the engine's JSON, so the planner (pure) can
consume them and tests can build them by hand. The protocols, each typed by the consumers
that need only it:

- :class:`ContainerRuntime`: observe a project, create/start/stop/remove its containers,
  network and volumes, read status and logs; plus where the engine is (``identity`` for the
  lock key, ``connect_host`` for published ports). Teardown needs only this.
- :class:`ImageStore`: make an image present, inspect, save, load, tag and push images.
  Bundles need only this.
- :class:`Inventory`: list envkit's objects across projects by label (ps, gc).
- :class:`Engine`: all three, for apply, the verbs and the Python API.

``envkit.engine.docker.DockerEngine`` implements them with the docker SDK,
``envkit.engine.fake.FakeEngine`` in memory; ``envkit.engine.factory.engine_from_env``
makes the engine the process environment names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import IO, Any, Protocol

from envkit.model import DesiredState, NetworkSpec, ServiceSpec

__all__ = [
    "BindSource",
    "ContainerRuntime",
    "ContainerStatus",
    "Engine",
    "EngineEvent",
    "ExecResult",
    "ImageInfo",
    "ImageStore",
    "Inventory",
    "LogOptions",
    "NetworkEndpoint",
    "ObservedContainer",
    "ObservedNetwork",
    "ObservedState",
    "ObservedVolume",
    "OutputCallback",
    "PathStat",
    "PortBinding",
    "PortHolder",
    "PortUse",
    "Processes",
]

# Receives each line of progress output of a pull, build, load or push.
OutputCallback = Callable[[str], None]


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
    # The networks it is attached to: name -> the network's id ("" for a container that was
    # created but never started). None: the engine did not say (then nothing is compared).
    networks: Mapping[str, str] | None = None
    # The command it runs as the engine's container list writes it (entrypoint and
    # arguments joined, an argument with a space in single quotes). None: not reported.
    command: str | None = None
    # Every volume mounted, as (target path, volume name): named and anonymous alike.
    volume_mounts: tuple[tuple[str, str], ...] = ()
    volumes: tuple[str, ...] = ()  # the volumes it mounts (named and anonymous), by name


@dataclass(frozen=True, slots=True)
class ObservedNetwork:
    id: str
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    created: str = ""  # RFC 3339, when the engine says (list_networks)
    scope: str = "local"  # local | swarm (an overlay network a Swarm manages) | global


@dataclass(frozen=True, slots=True)
class ObservedVolume:
    name: str
    labels: Mapping[str, str] = field(default_factory=dict)
    created: str = ""  # RFC 3339, when the engine says (list_volumes)


@dataclass(frozen=True, slots=True)
class NetworkEndpoint:
    """An endpoint on a network, as the network's inspect lists it. ``live``: its container
    exists; a stale endpoint (the engine kept it after its container went) is not."""

    key: str  # the container id, or the engine's key for a stale endpoint
    name: str  # the container's name, as the endpoint records it
    live: bool


@dataclass(frozen=True, slots=True)
class BindSource:
    """A bind mount's host path that does not exist, on an engine on this host: whether
    the engine may create it (``blocked`` empty), or why envkit will not let it."""

    path: str
    blocked: str = ""  # "" = creatable; else why not, for people ("/a/b is a symbolic link")


class PortHolder(Enum):
    """What holds a host port: a container (``PortUse.container``) or a host process."""

    CONTAINER = "container"
    HOST_PROCESS = "host-process"


@dataclass(frozen=True, slots=True)
class PortUse:
    """A host port that something other than this project holds. Data, not text: the
    planner compares ``project`` and ``container``; messages are worded where they are
    made."""

    host_ip: str
    host_port: int
    protocol: str
    holder: PortHolder = PortHolder.HOST_PROCESS
    container: str = ""  # the container's name, when a container holds it
    project: str = ""  # that container's io.envkit.project ("" when not envkit's)


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
    # The bind mount sources of the desired state that do not exist: path -> BindSource.
    # Only for an engine on this host (a remote engine's files are not ours to look at).
    missing_binds: Mapping[str, BindSource] = field(default_factory=dict)
    # Images missing locally that would be pulled, and cannot be: ref -> why (filled by
    # envkit.reconcile.pullcheck for plan and up; the observe itself asks no registry).
    unpullable: Mapping[str, str] = field(default_factory=dict)


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


@dataclass(frozen=True, slots=True)
class ExecResult:
    """What a command run in a container (``exec``, without a terminal) gave back."""

    exit_code: int
    output: bytes  # stdout and stderr, interleaved as the engine sent them


@dataclass(frozen=True, slots=True)
class Processes:
    """``docker top``: the column titles and one row per process."""

    titles: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class EngineEvent:
    """One event of the engine (``docker events``) about an object."""

    time: float  # Unix seconds
    type: str  # container | network | volume | image ...
    action: str  # create | start | die | stop | kill | pause | destroy ...
    name: str  # the object's name (or id when it has none)
    labels: Mapping[str, str] = field(default_factory=dict)  # the object's attributes


@dataclass(frozen=True, slots=True)
class PathStat:
    """A path in a container, as the engine's archive endpoint describes it."""

    name: str  # its last component
    size: int
    is_dir: bool
    link_target: str = ""  # a symlink's target ("" otherwise)


@dataclass(frozen=True, slots=True)
class LogOptions:
    """Which log lines to read: the last ``tail`` (None: all), those after ``since`` and
    before ``until`` (Unix seconds), each prefixed with its RFC 3339 time when
    ``timestamps``."""

    tail: int | None = None
    since: float | None = None
    until: float | None = None
    timestamps: bool = False


class ContainerRuntime(Protocol):
    """Observe one project and change its containers, network and volumes. Implementations
    translate their own exceptions into ``envkit.errors.EngineError`` (naming the object
    and operation); removing what is already gone succeeds."""

    @property
    def identity(self) -> str:
        """A stable name of the engine (``unix:///run/docker.sock``, ``tcp://host:2376``):
        equal for every spelling of one endpoint, never carrying a credential. The
        instance lock is keyed by it."""
        ...

    def connect_host(self, host_ip: str = "") -> str:
        """The address to reach a port the engine published on ``host_ip``: a specific
        address as it is, a wildcard one on loopback, or the engine's host when remote."""
        ...

    def observe(self, desired: DesiredState) -> ObservedState: ...

    def create_network(
        self, name: str, labels: Mapping[str, str], spec: NetworkSpec | None = None
    ) -> None:
        """Create a network: a plain bridge, or as ``spec`` says (driver, ipam...)."""
        ...

    def remove_network(self, name: str) -> None:
        """Remove the network; one that still has endpoints is an ``EngineError`` with code
        ``network-in-use``."""
        ...

    def network_endpoints(self, name: str) -> tuple[NetworkEndpoint, ...]:
        """The endpoints the network still has (none when it is gone)."""
        ...

    def disconnect_network(self, name: str, container: str) -> None:
        """Force-disconnect ``container`` (a name or id, even one that no longer exists:
        a stale endpoint) from the network."""
        ...

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
        *,
        name: str | None = None,
        tty: bool = False,
        oneoff: bool = False,
    ) -> str:
        """Create (not start) the container ``{project}-{service}-{replica}``; return its id.
        ``name``: under that name instead — a recreate makes the new container beside the
        old one first; a one-off container (``envkit run``, ``tty``: with a terminal) has
        stdin open and no service alias. Its anonymous volumes (bare ``/data`` mounts, the
        image's ``VOLUME`` paths) are the ``carried`` volumes ``(target, name)`` of the
        container it replaces, or new volumes labelled ``io.envkit.anonymous``."""
        ...

    def rename_container(self, container_id: str, name: str) -> None: ...

    def start_container(self, container_id: str) -> None: ...

    def stop_container(self, container_id: str, timeout_s: float) -> None: ...

    def remove_container(self, container_id: str, *, volumes: bool = False) -> None:
        """Force-remove a container. Its volumes stay (as in Compose) unless ``volumes``,
        which removes the anonymous volumes Docker made for it."""
        ...

    def restart_container(self, container_id: str, timeout_s: float) -> None: ...

    def kill_container(self, container_id: str, signal: str = "SIGKILL") -> None:
        """Send ``signal`` (a name such as ``SIGTERM``/``TERM`` or a number) to the main
        process of a running container."""
        ...

    def pause_container(self, container_id: str) -> None: ...

    def unpause_container(self, container_id: str) -> None: ...

    def exec_in(
        self,
        container_id: str,
        command: list[str],
        *,
        environment: Mapping[str, str] | None = None,
        user: str | None = None,
        workdir: str | None = None,
    ) -> ExecResult:
        """Run ``command`` in a running container without a terminal; its exit code and
        output."""
        ...

    def top(self, container_id: str) -> Processes: ...

    def events(
        self,
        labels: Mapping[str, str | None],
        since: float | None = None,
        until: float | None = None,
    ) -> Iterator[EngineEvent]:
        """The events of objects carrying ``labels``, from ``since`` on; without ``until``
        the stream waits for new ones until the caller stops reading."""
        ...

    def stat_path(self, container_id: str, path: str) -> PathStat | None:
        """What ``path`` is in the container, or None when there is nothing there."""
        ...

    def read_archive(self, container_id: str, path: str) -> Iterator[bytes]:
        """``path`` (a file or a folder, with its last component as the top entry) as a
        stream of tar bytes. The archive is the container's: extract it defensively."""
        ...

    def write_archive(self, container_id: str, folder: str, data: IO[bytes]) -> None:
        """Unpack the tar ``data`` into the container's existing ``folder``."""
        ...

    def status(self, container_id: str) -> ContainerStatus: ...

    def logs(
        self, container_id: str, tail: int | None = None, options: LogOptions | None = None
    ) -> str:
        """The container's log; ``options`` (when given) override ``tail``."""
        ...

    def follow_logs(self, container_id: str, options: LogOptions | None = None) -> Iterator[bytes]:
        """The log as it is written, starting with the lines ``options`` select (``tail``
        included: ``logs -f --tail 2`` prints the last two lines, then the new ones)."""
        ...

    def close(self) -> None:
        """Release the connection (the engine reconnects on its next call)."""
        ...


class ImageStore(Protocol):
    """The engine's local images: make one present, inspect, save, load, tag, push."""

    def ensure_image(self, spec: ServiceSpec, on_output: OutputCallback | None = None) -> str:
        """Make the service's image present per its pull_policy/build; return its id."""
        ...

    def pull_due(self, spec: ServiceSpec) -> bool:
        """Whether the service's pull policy asks for a pull before planning: ``always``,
        or a refresh policy (daily, weekly, every_<duration>) whose window has passed since
        the local image was last tagged (or there is none)."""
        ...

    def refresh_image(self, spec: ServiceSpec, on_output: OutputCallback | None = None) -> str:
        """Pull the service's image now (pull_policy always: before planning, so the plan
        compares with the registry's current image); return its id."""
        ...

    def image_info(self, ref: str) -> ImageInfo | None:
        """Id, tags and size of a local image, or None when it is not on the engine."""
        ...

    def pull_problem(self, ref: str) -> str | None:
        """Why the engine could not pull ``ref`` now (its registry unreachable, the image
        or tag unknown to it, no credentials), or None when it could: the engine asks the
        registry for the image's manifest, and pulls nothing."""
        ...

    def save_images(self, refs: list[str], chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """``docker save REF...`` as one stream of tar bytes."""
        ...

    def load_images(
        self, data: Iterable[bytes], on_output: OutputCallback | None = None
    ) -> list[str]:
        """``docker load`` from a stream of tar bytes; returns what it loaded."""
        ...

    def tag_image(self, image: str, ref: str) -> None: ...

    def push_image(self, ref: str, on_output: OutputCallback | None = None) -> None: ...


class Inventory(Protocol):
    """envkit's objects across projects, selected by label (a None value: the key with any
    value), e.g. ``{io.envkit.project: None}`` for every envkit object on the engine."""

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ObservedContainer]: ...

    def list_networks(self, labels: Mapping[str, str | None]) -> list[ObservedNetwork]: ...

    def list_volumes(self, labels: Mapping[str, str | None]) -> list[ObservedVolume]: ...


class Engine(ContainerRuntime, ImageStore, Inventory, Protocol):
    """Everything: what apply, the ``up``/``down`` verbs and the Python API need."""

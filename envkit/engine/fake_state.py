"""What the fake engine holds, and how a test seeds and inspects it.

:class:`FakeState` is the in-memory store behind :class:`~envkit.engine.fake.FakeEngine`:
containers (with their labels, so the spec label round-trips exactly as on Docker),
networks, volumes, an image table, a registry, host ports held by host processes, what
starting each service leads to (:class:`Outcome`) and the record of calls. It also knows
how Docker would report that state: a container as an ``ObservedContainer``, host ports
held by other projects' running containers or by the host as ports in use, and a start
that publishes a port already allocated as an error. The Engine operations are in
``envkit.engine.fake``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from envkit.engine.base import (
    ExecResult,
    ObservedContainer,
    ObservedNetwork,
    ObservedVolume,
    PortBinding,
)
from envkit.engine.bindsources import BindProbe
from envkit.engine.endpoint import EngineEndpoint, parse_endpoint
from envkit.errors import EngineError
from envkit.model import LABEL, PortSpec, addresses_overlap

__all__ = ["FAKE_ENDPOINT", "MUTATING", "FakeContainer", "FakeState", "Outcome", "digest"]


# Operations that change the engine; the read-only ones are observe, the list_* calls,
# image_info, save_images, status, logs and follow_logs.
MUTATING = frozenset(
    {
        "pull",
        "build",
        "create_network",
        "remove_network",
        "create_volume",
        "remove_volume",
        "create_container",
        "restart_container",
        "kill_container",
        "pause_container",
        "unpause_container",
        "exec",
        "write_archive",
        "start_container",
        "stop_container",
        "remove_container",
        "rename_container",
        "disconnect_network",
        "load",
        "tag",
        "push",
    }
)
# Where the fake says it is: a local socket no real engine listens on.
FAKE_ENDPOINT = "unix:///nonexistent/envkit-fake-engine.sock"
_FIRST_EPHEMERAL_PORT = 32768


@dataclass(frozen=True, slots=True)
class Outcome:
    """What starting a service's container leads to."""

    state: str = "running"  # or "exited" (a one-shot job, a crash)
    exit_code: int | None = None
    health: str | None = None  # None: "healthy" when the spec has a healthcheck
    logs: str = ""
    health_log: tuple[str, ...] = ()


@dataclass(slots=True)
class FakeContainer:
    """One container as the fake engine holds it (mutable, internal)."""

    id: str
    name: str
    labels: dict[str, str]
    image_id: str
    ports: tuple[PortSpec, ...] = ()
    healthcheck: bool = False
    state: str = "created"
    health: str | None = None
    exit_code: int | None = None
    logs: str = ""
    health_log: tuple[str, ...] = ()
    bindings: tuple[PortBinding, ...] = ()
    created: str = ""
    starts: int = 0  # how many times it was started
    volume_mounts: tuple[tuple[str, str], ...] = ()  # (target, volume name)
    volumes: tuple[str, ...] = ()  # named volumes it mounts
    files: dict[str, bytes] = field(default_factory=dict)  # absolute path -> content


def digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class FakeState:
    """The store: public attributes a test may read or seed directly, the seeding helpers,
    and how Docker would report what is stored. ``images``: what is present locally
    (ref -> id); ``registry``: what a pull can fetch (ref -> id). Thread-safe under
    ``_lock``."""

    def __init__(
        self,
        images: Mapping[str, str] | None = None,
        *,
        registry: Mapping[str, str] | None = None,
        endpoint: str = FAKE_ENDPOINT,
    ) -> None:
        self.endpoint: EngineEndpoint = parse_endpoint(endpoint)
        self.images: dict[str, str] = dict(images or {})
        self.registry: dict[str, str] = dict(registry or {})
        # ref -> when it was last tagged here (added, pulled): what refresh policies read
        self.tagged_at: dict[str, float] = {ref: time.time() for ref in self.images}
        self.clock: Callable[[], float] = time.time
        self.outcomes: dict[str, Outcome] = {}  # service name -> what starting leads to
        # service name -> what `exec` in its containers returns (default: exit 0, no output)
        self.exec_results: dict[str, ExecResult] = {}
        self.execs: list[tuple[str, tuple[str, ...]]] = []  # (container name, command)
        self.containers: dict[str, FakeContainer] = {}  # by id
        self.networks: dict[str, dict[str, str]] = {}  # name -> labels
        self.volumes: dict[str, dict[str, str]] = {}  # name -> labels
        self.host_ports: set[tuple[str, int, str]] = set()  # held by host processes
        # How observe finds the bind sources that do not exist: None (the fake has no files
        # of its own: none is missing), or envkit.engine.bindsources.probe_bind_source.
        self.bind_probe: BindProbe | None = None
        # network -> endpoint name -> live: endpoints a test attached (a foreign container,
        # live) or that the engine kept after their container went (stale, not live)
        self.endpoints: dict[str, dict[str, bool]] = {}
        self.calls: list[tuple[str, ...]] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._ephemeral = itertools.count(_FIRST_EPHEMERAL_PORT)

    # -- seeding and inspection, for tests -------------------------------------------------

    def add_image(self, ref: str, image_id: str | None = None) -> str:
        """Make ``ref`` present locally (a new id, unless given); return its id."""
        with self._lock:
            self.images[ref] = image_id or digest(f"{ref}#{next(self._ids)}")
            self.tagged_at[ref] = self.clock()
            return self.images[ref]

    def add_foreign_container(
        self,
        name: str,
        *,
        ports: tuple[PortSpec, ...] = (),
        labels: Mapping[str, str] | None = None,
    ) -> str:
        """A running container envkit does not own (or another project's, by its labels)."""
        with self._lock:
            c = self._new_container(name, dict(labels or {}), "sha256:foreign", ports, False)
            self._bind(c)
            c.state = "running"
            return c.id

    def add_foreign_network(self, name: str) -> None:
        self.networks[name] = {}

    def add_foreign_volume(self, name: str) -> None:
        """An unlabelled volume: a name-taken conflict, or an external volume that exists."""
        self.volumes[name] = {}

    def bind_host_port(self, port: int, host_ip: str = "", protocol: str = "tcp") -> None:
        """A process on the host listens on this port."""
        self.host_ports.add((host_ip, port, protocol))

    def set_state(
        self, name: str, state: str, *, health: str | None = None, exit_code: int | None = None
    ) -> None:
        """Change a container behind envkit's back (it crashed, someone stopped it)."""
        with self._lock:
            c = self._by_name(name)
            c.state, c.health, c.exit_code = state, health, exit_code
            if state != "running":
                c.bindings = ()

    def container(self, name: str) -> ObservedContainer | None:
        with self._lock:
            found = [c for c in self.containers.values() if c.name == name]
            return self._observed(found[0]) if found else None

    # -- where the engine is (as for a real one: see envkit.engine.endpoint) -------------------

    @property
    def identity(self) -> str:
        return self.endpoint.identity

    def connect_host(self, host_ip: str = "") -> str:
        return self.endpoint.connect_host(host_ip)

    @property
    def mutating_calls(self) -> list[tuple[str, ...]]:
        return [call for call in self.calls if call[0] in MUTATING]

    # -- the store, as Docker would report it ---------------------------------------------

    def _networks(self) -> list[ObservedNetwork]:
        return [
            ObservedNetwork(digest(f"network:{n}"), n, dict(labels))
            for n, labels in sorted(self.networks.items())
        ]

    def _volumes(self) -> list[ObservedVolume]:
        return [ObservedVolume(n, dict(labels)) for n, labels in sorted(self.volumes.items())]

    def _host_holds(self, host_ip: str, port: int, proto: str) -> bool:
        """The fake's host probe: whether a seeded host process holds the port."""
        return any(
            (q, t) == (port, proto) and addresses_overlap(i, host_ip) for i, q, t in self.host_ports
        )

    def _observed(self, c: FakeContainer) -> ObservedContainer:
        try:
            spec = json.loads(c.labels.get(LABEL.SPEC, ""))
        except ValueError:
            spec = {}
        try:
            replica = int(c.labels.get(LABEL.REPLICA, "0"))
        except ValueError:
            replica = 0
        return ObservedContainer(
            id=c.id,
            name=c.name,
            project=c.labels.get(LABEL.PROJECT, ""),
            service=c.labels.get(LABEL.SERVICE, ""),
            replica=replica,
            spec_hash=c.labels.get(LABEL.SPEC_HASH, ""),
            spec=spec if isinstance(spec, dict) else {},
            image_id=c.image_id,
            state=c.state,
            health=c.health,
            ports=c.bindings,
            exit_code=c.exit_code if c.state == "exited" else None,
            labels=dict(c.labels),
            created=c.created,
            volume_mounts=c.volume_mounts,
            volumes=c.volumes,
        )

    def _new_container(
        self,
        name: str,
        labels: dict[str, str],
        image_id: str,
        ports: tuple[PortSpec, ...],
        healthcheck: bool,
    ) -> FakeContainer:
        n = next(self._ids)
        c = FakeContainer(
            id=digest(f"container:{n}")[7:],
            name=name,
            labels=labels,
            image_id=image_id,
            ports=ports,
            healthcheck=healthcheck,
            created=f"2024-01-01T00:00:00.{n:06d}Z",
        )
        self.containers[c.id] = c
        return c

    def _by_name(self, name: str) -> FakeContainer:
        for c in self.containers.values():
            if c.name == name:
                return c
        raise EngineError(f"no container named {name}", code="engine-not-found")

    def _get(self, operation: str, container_id: str) -> FakeContainer:
        c = self.containers.get(container_id)
        if c is None:
            raise EngineError(
                f"cannot {operation} container {container_id}: not found", code="engine-not-found"
            )
        return c

    def _bind(self, c: FakeContainer) -> None:
        taken = {
            (b.host_ip, b.host_port, b.protocol)
            for o in self.containers.values()
            if o is not c and o.state == "running"
            for b in o.bindings
        } | self.host_ports
        bindings = []
        for p in c.ports:
            choices = p.host_ports if p.published is not None else [next(self._ephemeral)]
            port = next(  # a range: the first free one, as the engine picks
                (q for q in choices if not _held(taken, p.host_ip, q, p.protocol)), None
            )
            if port is None:
                raise EngineError(
                    f"cannot start container {c.name}: port {p.published_text() or choices[0]}"
                    f"/{p.protocol} is already allocated",
                )
            bindings.append(PortBinding(p.target, p.protocol, p.host_ip or "0.0.0.0", port))
            taken.add((p.host_ip or "0.0.0.0", port, p.protocol))
        c.bindings = tuple(bindings)


def _held(taken: set[tuple[str, int, str]], host_ip: str, port: int, protocol: str) -> bool:
    return any((q, t) == (port, protocol) and addresses_overlap(i, host_ip) for i, q, t in taken)

"""FakeEngine: an in-memory :class:`~envkit.engine.base.Engine`, a supported part of envkit
(like httpx's ``MockTransport``), for tests of apply, the CLI and the Python API.

It keeps containers (with their labels, so the spec label round-trips exactly as on Docker),
networks, volumes and an image table, and observes them the way ``DockerEngine`` does: the
project's objects by their ``io.envkit.project`` label, a same-named object without that
label as a foreign name, host ports held by other projects' running containers (or seeded
with :meth:`FakeEngine.bind_host_port`) as ports in use. Existing external volumes are
reported in ``observed.volumes``.

Every call is recorded in :attr:`FakeEngine.calls` as ``(operation, subject)`` (containers by
name), so a test can assert that a second ``up`` changed nothing::

    engine = FakeEngine(images={"busybox:latest": "sha256:..."})
    ...
    assert engine.mutating_calls == []

What a container does when started is decided by :attr:`FakeEngine.outcomes` (per service):
by default it runs, and is healthy when it has a healthcheck. Thread-safe.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from envkit.engine.base import (
    ContainerStatus,
    ObservedContainer,
    ObservedNetwork,
    ObservedState,
    ObservedVolume,
    PortBinding,
    PortUse,
)
from envkit.errors import EngineError, ImageNotFound
from envkit.model import (
    LABEL,
    DesiredState,
    MountType,
    PortSpec,
    PullPolicy,
    ServiceSpec,
    container_name,
)

__all__ = ["MUTATING", "FakeContainer", "FakeEngine", "Outcome"]

# Operations that change the engine; the read-only ones are observe, list_containers,
# status, logs and follow_logs.
MUTATING = frozenset(
    {
        "pull",
        "build",
        "create_network",
        "remove_network",
        "create_volume",
        "remove_volume",
        "create_container",
        "start_container",
        "stop_container",
        "remove_container",
    }
)
_WILDCARD = frozenset({"", "0.0.0.0", "::"})
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


def _overlap(a: str, b: str) -> bool:
    return a in _WILDCARD or b in _WILDCARD or a == b


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


class FakeEngine:
    """An in-memory engine. ``images``: what is present locally (ref -> id); ``registry``:
    what a pull can fetch (ref -> id). The attributes are public state a test may read or
    seed directly."""

    def __init__(
        self,
        images: Mapping[str, str] | None = None,
        *,
        registry: Mapping[str, str] | None = None,
    ) -> None:
        self.images: dict[str, str] = dict(images or {})
        self.registry: dict[str, str] = dict(registry or {})
        self.outcomes: dict[str, Outcome] = {}  # service name -> what starting leads to
        self.containers: dict[str, FakeContainer] = {}  # by id
        self.networks: dict[str, dict[str, str]] = {}  # name -> labels
        self.volumes: dict[str, dict[str, str]] = {}  # name -> labels
        self.host_ports: set[tuple[str, int, str]] = set()  # held by host processes
        self.calls: list[tuple[str, ...]] = []
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._ephemeral = itertools.count(_FIRST_EPHEMERAL_PORT)

    # -- seeding and inspection, for tests -------------------------------------------------

    def add_image(self, ref: str, image_id: str | None = None) -> str:
        """Make ``ref`` present locally (a new id, unless given); return its id."""
        with self._lock:
            self.images[ref] = image_id or _digest(f"{ref}#{next(self._ids)}")
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

    @property
    def mutating_calls(self) -> list[tuple[str, ...]]:
        return [call for call in self.calls if call[0] in MUTATING]

    # -- Engine: observe -------------------------------------------------------------------

    def observe(self, desired: DesiredState) -> ObservedState:
        project = desired.project
        with self._lock:
            self.calls.append(("observe", project))
            own = [c for c in self.containers.values() if c.labels.get(LABEL.PROJECT) == project]
            others = [c for c in self.containers.values() if c not in own]
            foreign: dict[str, str] = {}
            wanted = {
                container_name(project, s.name, n)
                for s in desired.services
                for n in range(1, s.replicas + 1)
            }
            foreign.update({c.name: "container" for c in others if c.name in wanted})
            if self._foreign(self.networks, desired.network, project):
                foreign[desired.network] = "network"
            external = {desired.volume_name(v.name) for v in desired.volumes if v.external}
            for vol in desired.volumes:
                name = desired.volume_name(vol.name)
                if not vol.external and self._foreign(self.volumes, name, project):
                    foreign[name] = "volume"
            return ObservedState(
                project=project,
                containers=tuple(self._observed(c) for c in sorted(own, key=lambda c: c.name)),
                networks=tuple(
                    ObservedNetwork(_digest(f"network:{n}"), n, dict(labels))
                    for n, labels in sorted(self.networks.items())
                    if labels.get(LABEL.PROJECT) == project
                ),
                volumes=tuple(
                    ObservedVolume(n, dict(labels))
                    for n, labels in sorted(self.volumes.items())
                    if labels.get(LABEL.PROJECT) == project or n in external
                ),
                images={s.image: self.images.get(s.image) for s in desired.services},
                foreign_names=foreign,
                ports_in_use=self._ports_in_use(desired, own, others),
            )

    @staticmethod
    def _foreign(objects: Mapping[str, Mapping[str, str]], name: str, project: str) -> bool:
        return name in objects and objects[name].get(LABEL.PROJECT) != project

    def _ports_in_use(
        self, desired: DesiredState, own: list[FakeContainer], others: list[FakeContainer]
    ) -> tuple[PortUse, ...]:
        found: list[PortUse] = []
        wanted = sorted(
            {
                (p.host_ip, p.published, p.protocol)
                for s in desired.services
                for p in s.ports
                if p.published is not None
            }
        )
        for ip, port, proto in wanted:
            holder = self._holder(others, ip, port, proto)
            if holder is not None:
                found.append(PortUse(ip, port, proto, holder))
            elif self._holder(own, ip, port, proto) is None and any(
                (q, t) == (port, proto) and _overlap(i, ip) for i, q, t in self.host_ports
            ):
                found.append(PortUse(ip, port, proto, "a process on the host"))
        return tuple(found)

    @staticmethod
    def _holder(containers: list[FakeContainer], ip: str, port: int, proto: str) -> str | None:
        for c in containers:
            for b in c.bindings:
                if (b.host_port, b.protocol) == (port, proto) and _overlap(b.host_ip, ip):
                    other = c.labels.get(LABEL.PROJECT)
                    suffix = f" (project {other})" if other else " (not managed by envkit)"
                    return f"container {c.name}{suffix}"
        return None

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
        )

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ObservedContainer]:
        with self._lock:
            self.calls.append(("list_containers", json.dumps(dict(labels), sort_keys=True)))
            return [
                self._observed(c)
                for c in sorted(self.containers.values(), key=lambda c: c.name)
                if all(k in c.labels and (v is None or c.labels[k] == v) for k, v in labels.items())
            ]

    # -- Engine: images, networks, volumes ---------------------------------------------------

    def ensure_image(self, spec: ServiceSpec, on_output: Any = None) -> str:
        ref, policy = spec.image, spec.pull_policy
        with self._lock:
            local = self.images.get(ref)
            if local is not None and policy in (PullPolicy.MISSING, PullPolicy.NEVER):
                return local
            if spec.build is not None and policy in (PullPolicy.MISSING, PullPolicy.BUILD):
                self.calls.append(("build", ref))
                self.images[ref] = _digest(f"build:{ref}:{spec.build.context_hash}")
                return self.images[ref]
            if policy is PullPolicy.BUILD:
                raise ImageNotFound(f"service {spec.name}: pull_policy is 'build' but no build:")
            if policy is PullPolicy.NEVER or ref not in self.registry:
                raise ImageNotFound(
                    f"service {spec.name}: image {ref!r} is not on the fake engine"
                    + ("" if policy is PullPolicy.NEVER else " nor in its registry"),
                    hint="seed it with FakeEngine.add_image() or FakeEngine.registry",
                )
            self.calls.append(("pull", ref))
            if on_output is not None:
                on_output(f"pulled {ref}")
            self.images[ref] = self.registry[ref]
            return self.images[ref]

    def refresh_image(self, spec: ServiceSpec, on_output: Any = None) -> str:
        """Pull ``spec.image`` from the fake registry now (pull_policy always, before plan)."""
        with self._lock:
            if spec.image not in self.registry:
                raise ImageNotFound(
                    f"service {spec.name}: cannot pull {spec.image!r}: not in the fake registry",
                    code="pull-failed",
                )
            self.calls.append(("pull", spec.image))
            self.images[spec.image] = self.registry[spec.image]
            return self.images[spec.image]

    def create_network(self, name: str, labels: Mapping[str, str]) -> None:
        with self._lock:
            self.calls.append(("create_network", name))
            if name in self.networks:
                raise EngineError(
                    f"cannot create network {name}: it exists", code="engine-conflict"
                )
            self.networks[name] = dict(labels)

    def remove_network(self, name: str) -> None:
        with self._lock:
            self.calls.append(("remove_network", name))
            self.networks.pop(name, None)

    def create_volume(
        self,
        name: str,
        labels: Mapping[str, str],
        driver: str = "local",
        driver_opts: Mapping[str, str] | None = None,
    ) -> None:
        with self._lock:
            self.calls.append(("create_volume", name))
            self.volumes.setdefault(name, dict(labels))  # like Docker: existing one is kept

    def remove_volume(self, name: str) -> None:
        with self._lock:
            self.calls.append(("remove_volume", name))
            self.volumes.pop(name, None)

    # -- Engine: containers -------------------------------------------------------------------

    def create_container(
        self, desired: DesiredState, spec: ServiceSpec, replica: int, labels: Mapping[str, str]
    ) -> str:
        name = container_name(desired.project, spec.name, replica)
        with self._lock:
            self.calls.append(("create_container", name))
            if any(c.name == name for c in self.containers.values()):
                raise EngineError(
                    f"cannot create container {name}: the name is in use", code="engine-conflict"
                )
            image_id = self.images.get(spec.image)
            if image_id is None:
                raise ImageNotFound(f"cannot create container {name}: no image {spec.image!r}")
            if desired.network not in self.networks:
                raise EngineError(
                    f"cannot create container {name}: network {desired.network} not found",
                    code="engine-not-found",
                )
            for m in spec.mounts:  # Docker creates a missing named volume, unlabelled
                if m.type is MountType.VOLUME and m.source:
                    self.volumes.setdefault(desired.volume_name(m.source), {})
            check = spec.healthcheck is not None and not spec.healthcheck.disabled
            return self._new_container(name, dict(labels), image_id, spec.ports, check).id

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
            id=_digest(f"container:{n}")[7:],
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
            port = p.published if p.published is not None else next(self._ephemeral)
            if any((q, t) == (port, p.protocol) and _overlap(i, p.host_ip) for i, q, t in taken):
                raise EngineError(
                    f"cannot start container {c.name}: port {port}/{p.protocol} is already "
                    "allocated",
                )
            bindings.append(PortBinding(p.target, p.protocol, p.host_ip or "0.0.0.0", port))
        c.bindings = tuple(bindings)

    def start_container(self, container_id: str) -> None:
        with self._lock:
            c = self._get("start", container_id)
            self.calls.append(("start_container", c.name))
            if c.state == "running":
                return
            self._bind(c)
            outcome = self.outcomes.get(c.labels.get(LABEL.SERVICE, ""), Outcome())
            c.state, c.exit_code = outcome.state, outcome.exit_code
            c.health = outcome.health or ("healthy" if c.healthcheck else None)
            c.logs += outcome.logs
            c.health_log = outcome.health_log
            c.starts += 1
            if c.state != "running":
                c.bindings = ()

    def stop_container(self, container_id: str, timeout_s: float) -> None:
        with self._lock:
            c = self.containers.get(container_id)
            self.calls.append(("stop_container", c.name if c else container_id))
            if c is not None and c.state == "running":
                c.state, c.exit_code, c.bindings = "exited", 0, ()

    def remove_container(self, container_id: str) -> None:
        with self._lock:
            c = self.containers.pop(container_id, None)
            self.calls.append(("remove_container", c.name if c else container_id))

    def status(self, container_id: str) -> ContainerStatus:
        with self._lock:
            c = self._get("inspect", container_id)
            self.calls.append(("status", c.name))
            return ContainerStatus(c.state, c.health, c.exit_code, c.health_log)

    def logs(self, container_id: str, tail: int | None = None) -> str:
        with self._lock:
            c = self._get("read logs of", container_id)
            self.calls.append(("logs", c.name))
            lines = c.logs.splitlines(keepends=True)
            return "".join(lines if tail is None else lines[-tail:] if tail else [])

    def follow_logs(self, container_id: str) -> Iterator[bytes]:
        text = self.logs(container_id)
        yield from (line.encode() for line in text.splitlines(keepends=True))

    def close(self) -> None:
        pass

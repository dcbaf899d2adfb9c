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
by default it runs, and is healthy when it has a healthcheck. Thread-safe. The store and the
seeding helpers are :class:`~envkit.engine.fake_state.FakeState`; this module is the Engine
operations on it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from envkit.engine.base import (
    ContainerStatus,
    ObservedContainer,
    ObservedNetwork,
    ObservedState,
    ObservedVolume,
)
from envkit.engine.fake_state import MUTATING, FakeContainer, FakeState, Outcome, digest
from envkit.errors import EngineError, ImageNotFound
from envkit.model import (
    DEFAULT_NETWORK,
    LABEL,
    DesiredState,
    MountType,
    NetworkSpec,
    PullPolicy,
    ServiceNetwork,
    ServiceSpec,
)

__all__ = ["MUTATING", "FakeContainer", "FakeEngine", "Outcome"]


class FakeEngine(FakeState):
    """An in-memory engine. ``images``: what is present locally (ref -> id); ``registry``:
    what a pull can fetch (ref -> id). The attributes are public state a test may read or
    seed directly (see :class:`~envkit.engine.fake_state.FakeState`)."""

    # -- Engine: observe -------------------------------------------------------------------

    def observe(self, desired: DesiredState) -> ObservedState:
        project = desired.project
        with self._lock:
            self.calls.append(("observe", project))
            own = [c for c in self.containers.values() if c.labels.get(LABEL.PROJECT) == project]
            others = [c for c in self.containers.values() if c not in own]
            foreign: dict[str, str] = {}
            wanted = {
                desired.container_of(s.name, n)
                for s in desired.services
                for n in range(1, s.replicas + 1)
            }
            foreign.update({c.name: "container" for c in others if c.name in wanted})
            for net in desired.network_specs():
                network = desired.network_name(net.name)
                if self._foreign(self.networks, network, project):
                    foreign[network] = "network"
            external = {desired.volume_name(v.name) for v in desired.volumes if v.external}
            for vol in desired.volumes:
                name = desired.volume_name(vol.name)
                if not vol.external and self._foreign(self.volumes, name, project):
                    foreign[name] = "volume"
            return ObservedState(
                project=project,
                containers=tuple(self._observed(c) for c in sorted(own, key=lambda c: c.name)),
                networks=tuple(
                    ObservedNetwork(digest(f"network:{n}"), n, dict(labels))
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
                self.images[ref] = digest(f"build:{ref}:{spec.build.context_hash}")
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

    def create_network(
        self, name: str, labels: Mapping[str, str], spec: NetworkSpec | None = None
    ) -> None:
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
        self,
        desired: DesiredState,
        spec: ServiceSpec,
        replica: int,
        labels: Mapping[str, str],
        carried: tuple[tuple[str, str], ...] = (),
    ) -> str:
        name = desired.container_of(spec.name, replica)
        with self._lock:
            self.calls.append(("create_container", name))
            if any(c.name == name for c in self.containers.values()):
                raise EngineError(
                    f"cannot create container {name}: the name is in use", code="engine-conflict"
                )
            image_id = self.images.get(spec.image)
            if image_id is None:
                raise ImageNotFound(f"cannot create container {name}: no image {spec.image!r}")
            joined = (
                () if spec.network_mode else spec.networks or (ServiceNetwork(DEFAULT_NETWORK),)
            )
            for net in joined:
                network = desired.network_name(net.name)
                if network not in self.networks:
                    raise EngineError(
                        f"cannot create container {name}: network {network} not found",
                        code="engine-not-found",
                    )
            mounted: list[tuple[str, str]] = []
            reuse = dict(carried)
            for m in spec.mounts:  # Docker creates a missing named volume, unlabelled
                if m.type is MountType.VOLUME and m.source:
                    volume = desired.volume_name(m.source)
                    self.volumes.setdefault(volume, {})
                elif m.type is MountType.VOLUME:  # anonymous: carried over, or made labelled
                    volume = reuse.get(m.target) or f"{name}_anon-{len(self.volumes)}"
                    own = {k: v for k, v in labels.items() if k == LABEL.PROJECT}
                    self.volumes.setdefault(volume, {**own, LABEL.ANONYMOUS: m.target})
                else:
                    continue
                mounted.append((m.target, volume))
            check = spec.healthcheck is not None and not spec.healthcheck.disabled
            c = self._new_container(name, dict(labels), image_id, spec.ports, check)
            c.volume_mounts = tuple(mounted)
            return c.id

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

    def remove_container(self, container_id: str, *, volumes: bool = False) -> None:
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

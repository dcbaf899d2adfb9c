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
from collections.abc import Iterable, Iterator, Mapping

from envkit.engine.base import (
    ContainerStatus,
    Engine,
    ImageInfo,
    LogOptions,
    NetworkEndpoint,
    ObservedContainer,
    ObservedNetwork,
    ObservedState,
    ObservedVolume,
    OutputCallback,
)
from envkit.engine.fake_ops import FakeContainerOps, matches
from envkit.engine.fake_state import MUTATING, FakeContainer, Outcome, digest
from envkit.engine.occupied import observed_state
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


class FakeEngine(FakeContainerOps):
    """An in-memory engine. ``images``: what is present locally (ref -> id); ``registry``:
    what a pull can fetch (ref -> id). The attributes are public state a test may read or
    seed directly (see :class:`~envkit.engine.fake_state.FakeState`)."""

    # -- Engine: observe -------------------------------------------------------------------

    def observe(self, desired: DesiredState) -> ObservedState:
        """As Docker's: every container, network and volume handed to the same
        :func:`~envkit.engine.occupied.observed_state`."""
        with self._lock:
            self.calls.append(("observe", desired.project))
            return observed_state(
                desired,
                [self._observed(c) for c in self.containers.values()],
                self._networks(),
                self._volumes(),
                {s.image: self.images.get(s.image) for s in desired.services},
                self._host_holds,
                self.bind_probe,
            )

    # -- Inventory ---------------------------------------------------------------------------

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ObservedContainer]:
        with self._lock:
            self.calls.append(("list_containers", json.dumps(dict(labels), sort_keys=True)))
            found = [self._observed(c) for c in self.containers.values()]
            return sorted((c for c in found if matches(c.labels, labels)), key=lambda c: c.name)

    def list_networks(self, labels: Mapping[str, str | None]) -> list[ObservedNetwork]:
        with self._lock:
            self.calls.append(("list_networks", json.dumps(dict(labels), sort_keys=True)))
            return [n for n in self._networks() if matches(n.labels, labels)]

    def list_volumes(self, labels: Mapping[str, str | None]) -> list[ObservedVolume]:
        with self._lock:
            self.calls.append(("list_volumes", json.dumps(dict(labels), sort_keys=True)))
            return [v for v in self._volumes() if matches(v.labels, labels)]

    # -- Engine: images, networks, volumes ---------------------------------------------------

    def ensure_image(self, spec: ServiceSpec, on_output: OutputCallback | None = None) -> str:
        ref, policy = spec.image, spec.pull_policy
        with self._lock:
            local = self.images.get(ref)
            if local is not None and policy in (PullPolicy.MISSING, PullPolicy.NEVER):
                return local
            if local is not None and policy is PullPolicy.REFRESH:
                tagged = self.tagged_at.get(ref)
                if tagged is not None and self.clock() - tagged < (spec.pull_refresh_s or 0.0):
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
            self.tagged_at[ref] = self.clock()
            return self.images[ref]

    def pull_due(self, spec: ServiceSpec) -> bool:
        """``always``; a refresh policy when the image is missing or was last tagged (added,
        pulled: :attr:`tagged_at`) longer ago than its window."""
        if spec.pull_policy is PullPolicy.ALWAYS:
            return True
        if spec.pull_policy is not PullPolicy.REFRESH:
            return False
        with self._lock:
            tagged = self.tagged_at.get(spec.image)
        return tagged is None or self.clock() - tagged >= (spec.pull_refresh_s or 0.0)

    def pull_problem(self, ref: str) -> str | None:
        """None when the fake registry has ``ref``, else why not."""
        with self._lock:
            return None if ref in self.registry else f"{ref} is not in the fake registry"

    def refresh_image(self, spec: ServiceSpec, on_output: OutputCallback | None = None) -> str:
        """Pull ``spec.image`` from the fake registry now (pull_policy always, before plan)."""
        with self._lock:
            if spec.image not in self.registry:
                raise ImageNotFound(
                    f"service {spec.name}: cannot pull {spec.image!r}: not in the fake registry",
                    code="pull-failed",
                )
            self.calls.append(("pull", spec.image))
            self.images[spec.image] = self.registry[spec.image]
            self.tagged_at[spec.image] = self.clock()
            return self.images[spec.image]

    def image_info(self, ref: str) -> ImageInfo | None:
        with self._lock:
            image_id = self.images.get(ref) or (ref if ref in self.images.values() else None)
            if image_id is None:
                return None
            tags = tuple(sorted(r for r, i in self.images.items() if i == image_id))
            return ImageInfo(image_id, tags, 0)

    def save_images(self, refs: list[str], chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """The fake's own archive: a JSON object ref -> id (not a docker tar)."""
        with self._lock:
            missing = [r for r in refs if r not in self.images]
            if missing:
                raise ImageNotFound(f"cannot save images: {', '.join(missing)} not on the fake")
            data = json.dumps({r: self.images[r] for r in refs}, sort_keys=True).encode()
        for start in range(0, len(data), chunk_size):
            yield data[start : start + chunk_size]

    def load_images(
        self, data: Iterable[bytes], on_output: OutputCallback | None = None
    ) -> list[str]:
        """Load what :meth:`save_images` wrote; returns the references loaded."""
        try:
            loaded = json.loads(b"".join(data))
            if not isinstance(loaded, dict):
                raise TypeError(type(loaded).__name__)
        except (ValueError, TypeError) as exc:
            raise EngineError(
                f"the fake cannot load this archive: {exc}", code="load-failed"
            ) from exc
        with self._lock:
            self.calls.append(("load", ",".join(sorted(loaded))))
            self.images.update({str(r): str(i) for r, i in loaded.items()})
        for ref in loaded:
            if on_output is not None:
                on_output(f"Loaded image: {ref}")
        return sorted(loaded)

    def tag_image(self, image: str, ref: str) -> None:
        with self._lock:
            info = self.image_info(image)
            if info is None:
                raise EngineError(f"cannot tag image {image}: not found", code="engine-not-found")
            self.calls.append(("tag", ref))
            self.images[ref] = info.id

    def push_image(self, ref: str, on_output: OutputCallback | None = None) -> None:
        with self._lock:
            if ref not in self.images:
                raise EngineError(f"cannot push {ref}: not on the fake", code="push-failed")
            self.calls.append(("push", ref))
            self.registry[ref] = self.images[ref]

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
            if self.endpoints.get(name):
                raise EngineError(
                    f"cannot remove network {name}: error while removing network: network "
                    f"{name} has active endpoints",
                    code="network-in-use",
                )
            self.networks.pop(name, None)

    def network_endpoints(self, name: str) -> tuple[NetworkEndpoint, ...]:
        with self._lock:
            self.calls.append(("network_endpoints", name))
            found = self.endpoints.get(name, {}) if name in self.networks else {}
            return tuple(NetworkEndpoint(f"ep-{n}", n, live) for n, live in sorted(found.items()))

    def disconnect_network(self, name: str, container: str) -> None:
        with self._lock:
            self.calls.append(("disconnect_network", f"{container} from {name}"))
            self.endpoints.get(name, {}).pop(container, None)

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
            users = sorted(c.name for c in self.containers.values() if name in c.volumes)
            if users:  # as Docker: 409
                raise EngineError(
                    f"cannot remove volume {name}: volume is in use - [{', '.join(users)}]",
                    code="engine-conflict",
                )
            self.volumes.pop(name, None)

    # -- Engine: containers -------------------------------------------------------------------

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
        name = name or desired.container_of(spec.name, replica)
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
            c.volumes = tuple(sorted({volume for _, volume in mounted}))
            return c.id

    def rename_container(self, container_id: str, name: str) -> None:
        with self._lock:
            c = self._get("rename", container_id)
            self.calls.append(("rename_container", f"{c.name} -> {name}"))
            if any(o.name == name for o in self.containers.values() if o is not c):
                raise EngineError(
                    f"cannot rename container {c.name} to {name}: the name is in use",
                    code="engine-conflict",
                )
            c.name = name

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
            if c is not None and c.state in ("running", "paused"):
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

    def restart_container(self, container_id: str, timeout_s: float) -> None:
        with self._lock:
            c = self._get("restart", container_id)
            self.calls.append(("restart_container", c.name))
            if c.state in ("running", "paused"):
                c.state, c.exit_code, c.bindings = "exited", 0, ()
            self.start_container(container_id)

    def logs(
        self, container_id: str, tail: int | None = None, options: LogOptions | None = None
    ) -> str:
        """The fake keeps no times: ``since``/``until``/``timestamps`` select nothing."""
        tail = options.tail if options is not None else tail
        with self._lock:
            c = self._get("read logs of", container_id)
            self.calls.append(("logs", c.name))
            lines = c.logs.splitlines(keepends=True)
            return "".join(lines if tail is None else lines[-tail:] if tail else [])

    def follow_logs(self, container_id: str, options: LogOptions | None = None) -> Iterator[bytes]:
        text = self.logs(container_id, options=options)
        yield from (line.encode() for line in text.splitlines(keepends=True))

    def close(self) -> None:
        pass


def _is_an_engine(engine: FakeEngine) -> Engine:
    """Never called: mypy (strict, in CI) proves here that FakeEngine implements every
    protocol of :class:`~envkit.engine.base.Engine`."""
    return engine

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

import io
import json
import posixpath
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from typing import IO

from envkit.engine.base import (
    ContainerStatus,
    Engine,
    EngineEvent,
    ExecResult,
    ImageInfo,
    LogOptions,
    ObservedContainer,
    ObservedNetwork,
    ObservedState,
    ObservedVolume,
    OutputCallback,
    PathStat,
    Processes,
)
from envkit.engine.fake_state import MUTATING, FakeContainer, FakeState, Outcome, digest
from envkit.engine.occupied import observed_state
from envkit.errors import EngineError, ImageNotFound
from envkit.model import LABEL, DesiredState, MountType, PullPolicy, ServiceSpec, container_name

__all__ = ["MUTATING", "FakeContainer", "FakeEngine", "Outcome"]


class FakeEngine(FakeState):
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
            )

    # -- Inventory ---------------------------------------------------------------------------

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ObservedContainer]:
        with self._lock:
            self.calls.append(("list_containers", json.dumps(dict(labels), sort_keys=True)))
            found = [self._observed(c) for c in self.containers.values()]
            return sorted((c for c in found if _matches(c.labels, labels)), key=lambda c: c.name)

    def list_networks(self, labels: Mapping[str, str | None]) -> list[ObservedNetwork]:
        with self._lock:
            self.calls.append(("list_networks", json.dumps(dict(labels), sort_keys=True)))
            return [n for n in self._networks() if _matches(n.labels, labels)]

    def list_volumes(self, labels: Mapping[str, str | None]) -> list[ObservedVolume]:
        with self._lock:
            self.calls.append(("list_volumes", json.dumps(dict(labels), sort_keys=True)))
            return [v for v in self._volumes() if _matches(v.labels, labels)]

    # -- Engine: images, networks, volumes ---------------------------------------------------

    def ensure_image(self, spec: ServiceSpec, on_output: OutputCallback | None = None) -> str:
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
        *,
        name: str | None = None,
        tty: bool = False,
    ) -> str:
        name = name or container_name(desired.project, spec.name, replica)
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
            mounted = []
            for m in spec.mounts:  # Docker creates a missing named volume, unlabelled
                if m.type is MountType.VOLUME and m.source:
                    mounted.append(desired.volume_name(m.source))
                    self.volumes.setdefault(mounted[-1], {})
            check = spec.healthcheck is not None and not spec.healthcheck.disabled
            c = self._new_container(name, dict(labels), image_id, spec.ports, check)
            c.volumes = tuple(sorted(mounted))
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
            if c is not None and c.state in ("running", "paused"):
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

    def restart_container(self, container_id: str, timeout_s: float) -> None:
        with self._lock:
            c = self._get("restart", container_id)
            self.calls.append(("restart_container", c.name))
            if c.state in ("running", "paused"):
                c.state, c.exit_code, c.bindings = "exited", 0, ()
            self.start_container(container_id)

    def kill_container(self, container_id: str, signal: str = "SIGKILL") -> None:
        """Like Docker: the container must run; SIGKILL/SIGTERM/SIGINT end it (exit code
        128 + the signal's number), other signals only reach the process."""
        with self._lock:
            c = self._running("kill", container_id)
            self.calls.append(("kill_container", c.name))
            number = _SIGNALS.get(signal.upper().removeprefix("SIG"))
            if number is None and signal.isdigit():
                number = int(signal)
            if number is None:
                raise EngineError(
                    f"cannot kill container {c.name}: invalid signal: {signal}",
                    code="engine-error",
                )
            if number in (2, 9, 15):
                c.state, c.exit_code, c.bindings = "exited", 128 + number, ()

    def pause_container(self, container_id: str) -> None:
        with self._lock:
            c = self._running("pause", container_id)
            self.calls.append(("pause_container", c.name))
            if c.state == "paused":
                raise EngineError(
                    f"cannot pause container {c.name}: it is already paused",
                    code="engine-conflict",
                )
            c.state = "paused"

    def unpause_container(self, container_id: str) -> None:
        with self._lock:
            c = self._get("unpause", container_id)
            self.calls.append(("unpause_container", c.name))
            if c.state != "paused":
                raise EngineError(
                    f"cannot unpause container {c.name}: it is not paused",
                    code="engine-error",  # Docker answers 500 here, not 409
                )
            c.state = "running"

    def exec_in(
        self,
        container_id: str,
        command: list[str],
        *,
        environment: Mapping[str, str] | None = None,
        user: str | None = None,
        workdir: str | None = None,
    ) -> ExecResult:
        """What :attr:`exec_results` says for the container's service (default: exit 0,
        no output); every command is recorded in :attr:`execs`."""
        with self._lock:
            c = self._running("exec in", container_id, paused_ok=False)
            self.calls.append(("exec", c.name))
            self.execs.append((c.name, tuple(command)))
            return self.exec_results.get(c.labels.get(LABEL.SERVICE, ""), ExecResult(0, b""))

    def top(self, container_id: str) -> Processes:
        with self._lock:
            c = self._running("list processes of", container_id)
            self.calls.append(("top", c.name))
            return Processes(("PID", "CMD"), (("1", c.name),))

    def events(
        self,
        labels: Mapping[str, str | None],
        since: float | None = None,
        until: float | None = None,
    ) -> Iterator[EngineEvent]:
        """The container operations recorded in :attr:`calls` on containers that are still
        there and carry ``labels``, then the end (the fake has no clock nor a future:
        ``since``/``until`` select nothing)."""
        with self._lock:
            present = {c.name: c.labels for c in self.containers.values()}
            found = [
                EngineEvent(0.0, "container", _ACTIONS[op], name, dict(present[name]))
                for op, name, *_ in self.calls
                if op in _ACTIONS and name in present and _matches(present[name], labels)
            ]
        yield from found

    def stat_path(self, container_id: str, path: str) -> PathStat | None:
        """The fake's file system is :attr:`FakeContainer.files` (folders are implied by
        the files in them; ``/`` always exists)."""
        with self._lock:
            c = self._get("read", container_id)
            path = _norm(path)
            if path in c.files:
                return PathStat(posixpath.basename(path), len(c.files[path]), False)
            if path == "/" or any(f.startswith(path + "/") for f in c.files):
                return PathStat(posixpath.basename(path) or "/", 0, True)
            return None

    def read_archive(self, container_id: str, path: str) -> Iterator[bytes]:
        stat = self.stat_path(container_id, path)
        if stat is None:
            raise EngineError(
                f"cannot read {path} in container {container_id}: no such file or directory",
                code="engine-not-found",
            )
        with self._lock:
            c = self._get("read", container_id)
            path = _norm(path)
            chosen = {
                f: data for f, data in c.files.items() if f == path or f.startswith(path + "/")
            }
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            for f, data in sorted(chosen.items()):
                rel = posixpath.relpath(f, posixpath.dirname(path))
                info = tarfile.TarInfo(rel)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        yield buf.getvalue()

    def write_archive(self, container_id: str, folder: str, data: IO[bytes]) -> None:
        with self._lock:
            c = self._get("write into", container_id)
            folder = _norm(folder)
            stat = self.stat_path(container_id, folder)
            if stat is None or not stat.is_dir:
                raise EngineError(
                    f"cannot write into {folder} in container {c.name}: not a directory",
                    code="engine-not-found",
                )
            self.calls.append(("write_archive", c.name))
            with tarfile.open(fileobj=data, mode="r|") as tar:
                for member in tar:
                    if member.isfile():
                        content = tar.extractfile(member)
                        target = _norm(posixpath.join(folder, member.name))
                        c.files[target] = content.read() if content is not None else b""

    def _running(self, operation: str, container_id: str, paused_ok: bool = True) -> FakeContainer:
        c = self._get(operation, container_id)
        if c.state == "running" or (paused_ok and c.state == "paused"):
            return c
        raise EngineError(
            f"cannot {operation} container {c.name}: it is {c.state}, not running",
            code="engine-conflict",
        )

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


_SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "USR2": 12, "TERM": 15}


_ACTIONS = {
    "create_container": "create",
    "start_container": "start",
    "stop_container": "stop",
    "restart_container": "restart",
    "kill_container": "kill",
    "pause_container": "pause",
    "unpause_container": "unpause",
}


def _norm(path: str) -> str:
    return posixpath.normpath("/" + path.strip())


def _matches(have: Mapping[str, str], want: Mapping[str, str | None]) -> bool:
    """Docker's label filter: each key present, with the value when one is given."""
    return all(k in have and (v is None or have[k] == v) for k, v in want.items())


def _is_an_engine(engine: FakeEngine) -> Engine:
    """Never called: mypy (strict, in CI) proves here that FakeEngine implements every
    protocol of :class:`~envkit.engine.base.Engine`."""
    return engine

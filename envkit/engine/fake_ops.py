"""The fake engine's operations on containers that exist (kill, pause, unpause, exec,
top, files, events): a part of :class:`~envkit.engine.fake.FakeEngine`, split out so
that each module holds one idea. They answer as Docker does (the contract tests hold
both to it)."""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Iterator, Mapping
from typing import IO

from envkit.engine.base import EngineEvent, ExecResult, PathStat, Processes
from envkit.engine.fake_state import FakeContainer, FakeState
from envkit.errors import EngineError
from envkit.model import LABEL

__all__ = ["FakeContainerOps", "matches"]


class FakeContainerOps(FakeState):
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
                if op in _ACTIONS and name in present and matches(present[name], labels)
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


def matches(have: Mapping[str, str], want: Mapping[str, str | None]) -> bool:
    """Docker's label filter: each key present, with the value when one is given."""
    return all(k in have and (v is None or have[k] == v) for k, v in want.items())


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
    return posixpath.normpath("/" + path.strip().lstrip("/"))  # (normpath keeps "//")

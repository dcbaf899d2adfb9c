"""What :class:`envkit.engine.docker.DockerEngine` does to a container that exists: the
lifecycle operations (restart, kill, pause, unpause), ``exec`` without a terminal,
``top`` and reading logs. A part of ``DockerEngine`` (which hands it its client and its
error boundary), split out so that each module holds one idea.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from envkit.engine.base import EngineEvent, ExecResult, LogOptions, PathStat, Processes
from envkit.engine.docker_json import label_filters
from envkit.errors import EnvkitError

__all__ = ["DockerContainers"]

Boundary = Callable[[str, str], contextlib.AbstractContextManager[None]]


class DockerContainers:
    def __init__(self, api: Callable[[], Any], boundary: Boundary) -> None:
        self._api = api
        self._boundary = boundary

    def restart(self, container_id: str, timeout_s: float) -> None:
        with self._boundary("restart container", container_id):
            self._api().restart(container_id, timeout=max(0, round(timeout_s)))

    def kill(self, container_id: str, signal: str) -> None:
        with self._boundary("kill container", container_id):
            self._api().kill(container_id, signal=signal)

    def pause(self, container_id: str) -> None:
        with self._boundary("pause container", container_id):
            self._api().pause(container_id)

    def unpause(self, container_id: str) -> None:
        with self._boundary("unpause container", container_id):
            self._api().unpause(container_id)

    def exec_in(
        self,
        container_id: str,
        command: list[str],
        environment: Mapping[str, str] | None,
        user: str | None,
        workdir: str | None,
    ) -> ExecResult:
        api = self._api()
        with self._boundary("exec in container", container_id):
            created = api.exec_create(
                container_id,
                command,
                stdout=True,
                stderr=True,
                tty=False,
                environment=dict(environment or {}) or None,
                user=user or "",
                workdir=workdir,
            )
            output = api.exec_start(created["Id"], tty=False)
            code = api.exec_inspect(created["Id"]).get("ExitCode")
        return ExecResult(int(code) if code is not None else -1, bytes(output))

    def top(self, container_id: str) -> Processes:
        with self._boundary("list processes of", container_id):
            raw = self._api().top(container_id)
        titles = tuple(str(t) for t in raw.get("Titles") or ())
        rows = tuple(tuple(str(v) for v in row) for row in raw.get("Processes") or ())
        return Processes(titles, rows)

    def events(
        self, labels: Mapping[str, str | None], since: float | None, until: float | None
    ) -> Iterator[EngineEvent]:
        with self._boundary("read events", "of the engine"):
            stream = self._api().events(
                since=since, until=until, filters=label_filters(labels), decode=True
            )
            for raw in stream:
                if isinstance(raw, dict):
                    yield _event(raw)

    def stat_path(self, container_id: str, path: str) -> PathStat | None:
        api = self._api()
        try:
            with self._boundary("read", f"{path} in container {container_id}"):
                stream, stat = api.get_archive(container_id, path, chunk_size=1)
        except EnvkitError as exc:
            if exc.code == "engine-not-found":
                return None
            raise
        with contextlib.suppress(Exception):
            stream.close()  # only the header was wanted
        return _path_stat(stat or {})

    def read_archive(self, container_id: str, path: str) -> Iterator[bytes]:
        with self._boundary("read", f"{path} in container {container_id}"):
            stream, _ = self._api().get_archive(container_id, path, chunk_size=1 << 16)
            yield from stream

    def write_archive(self, container_id: str, folder: str, data: IO[bytes]) -> None:
        with self._boundary("write into", f"{folder} in container {container_id}"):
            self._api().put_archive(container_id, folder, data)

    def logs(self, container_id: str, options: LogOptions) -> str:
        with self._boundary("read logs of", container_id):
            raw = self._api().logs(container_id, stdout=True, stderr=True, **_log_kwargs(options))
        return bytes(raw).decode("utf-8", errors="replace")

    def follow_logs(self, container_id: str, options: LogOptions) -> Iterator[bytes]:
        with self._boundary("follow logs of", container_id):
            stream = self._api().logs(
                container_id,
                stdout=True,
                stderr=True,
                stream=True,
                follow=True,
                **_log_kwargs(options),
            )
            yield from stream


def _event(raw: dict[str, Any]) -> EngineEvent:
    found = raw.get("Actor")
    actor: dict[str, Any] = found if isinstance(found, dict) else {}
    found = actor.get("Attributes")
    attributes: dict[str, Any] = found if isinstance(found, dict) else {}
    nano = raw.get("timeNano")
    moment = int(nano) / 1e9 if isinstance(nano, int) else float(raw.get("time") or 0)
    return EngineEvent(
        time=moment,
        type=str(raw.get("Type") or ""),
        action=str(raw.get("Action") or ""),
        name=str(attributes.get("name") or actor.get("ID") or ""),
        labels={str(k): str(v) for k, v in attributes.items()},
    )


_MODE_DIR = 1 << 31  # Go's os.ModeDir, as the engine's stat header carries it


def _path_stat(stat: dict[str, Any]) -> PathStat:
    mode = int(stat.get("mode") or 0)
    return PathStat(
        name=str(stat.get("name") or ""),
        size=int(stat.get("size") or 0),
        is_dir=bool(mode & _MODE_DIR),
        link_target=str(stat.get("linkTarget") or ""),
    )


def _log_kwargs(options: LogOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "tail": "all" if options.tail is None else options.tail,
        "timestamps": options.timestamps,
    }
    # The SDK sends whole seconds for an int and fractional ones for a float; the API
    # accepts both. (``since=0`` would mean "from the start", which is the default anyway.)
    if options.since is not None:
        kwargs["since"] = options.since
    if options.until is not None:
        kwargs["until"] = options.until
    return kwargs

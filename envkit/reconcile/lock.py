"""A per-instance lock, so two envkit runs on the same instance never interleave.

``fcntl.flock`` on a file keyed by the engine's identity and the project, under
``locks/`` of the per-user private state folder (:mod:`envkit.statedir`; never a folder
shared with other users, where anyone could plant a symlink or hold the lock for ever). The
kernel releases a flock when its holder exits, however it exits (``kill -9`` included), so
there are no stale locks to clean up: a leftover file is only a place to lock.

The file is opened with ``O_NOFOLLOW`` and never truncated on open; only the holder, once
it holds the lock, writes its pid and start time into it (``pwrite`` then ``ftruncate``), so
a waiter can say whom it waits for. Nothing else goes in (no command line: it may carry a
``--var`` secret).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from envkit.errors import LockTimeout
from envkit.statedir import base_dir, open_private, private_dir

__all__ = ["instance_lock", "lock_path"]


def lock_path(
    project: str, *, engine_id: str, environment: Mapping[str, str] | None = None
) -> Path:
    """Where the lock of ``project`` on the engine ``engine_id`` (the engine's
    ``identity``: every spelling of one endpoint gives one lock) lives."""
    env = os.environ if environment is None else environment
    base = base_dir(env) / "locks"
    key = hashlib.sha256(f"{engine_id}\0{project}".encode()).hexdigest()[:12]
    return base / f"{project}.{key}.lock"


def _open(project: str, engine_id: str, environment: Mapping[str, str] | None) -> tuple[Path, int]:
    """The checked lock path and an fd on it (checked folder, no symlink, no truncation)."""
    directory = private_dir("locks", environ=environment)
    path = directory / lock_path(project, engine_id=engine_id, environment=environment).name
    return path, open_private(path)


def holder(fd: int) -> str:
    """Who holds the lock on ``fd``, as its holder wrote it: ``pid 123[, project P]``."""
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        who = f"pid {int(info['pid'])}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"
    project = info.get("project") if isinstance(info, dict) else None
    return f"{who}, project {project}" if isinstance(project, str) else who


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def acquire(
    fd: int,
    *,
    deadline: float,
    poll_s: float,
    on_wait: Callable[[str], None] | None,
    waiting: Callable[[str], str],
    timed_out: Callable[[str], LockTimeout],
    info: Mapping[str, object],
) -> None:
    """Take the flock on ``fd``: when another envkit holds it, say so once (``waiting``
    words it from the holder) and wait until ``deadline``, then raise ``timed_out``.
    Then write ``info`` (who holds it now) into the file."""
    if not _try_lock(fd):
        if on_wait is not None:
            on_wait(waiting(holder(fd)))
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise timed_out(holder(fd))
            time.sleep(poll_s)
    data = json.dumps(dict(info)).encode()
    with contextlib.suppress(OSError):  # a full disk: locked, but cannot say by whom
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))


@contextlib.contextmanager
def instance_lock(
    project: str,
    *,
    engine_id: str,
    timeout_s: float = 300.0,
    on_wait: Callable[[str], None] | None = None,
    poll_s: float = 0.1,
    environment: Mapping[str, str] | None = None,
) -> Iterator[Path]:
    """Hold the lock of ``project`` for the ``with`` block. When another envkit holds it,
    say so once through ``on_wait`` and wait up to ``timeout_s``, then raise LockTimeout."""
    path, fd = _open(project, engine_id, environment)
    try:
        acquire(
            fd,
            deadline=time.monotonic() + timeout_s,
            poll_s=poll_s,
            on_wait=on_wait,
            waiting=lambda who: f"waiting for another envkit ({who}) holding the lock on {project}",
            timed_out=lambda who: LockTimeout(
                f"another envkit ({who}) still holds the lock on {project} after {timeout_s:g}s",
                hint="wait for it to finish (or stop it); the lock goes when that process "
                f"exits. Lock file: {path}",
            ),
            info={"pid": os.getpid(), "since": datetime.now(UTC).isoformat(timespec="seconds")},
        )
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

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


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {int(info['pid'])}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


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
        if not _try_lock(fd):
            holder = _holder(fd)
            if on_wait is not None:
                on_wait(f"waiting for another envkit ({holder}) holding the lock on {project}")
            deadline = time.monotonic() + timeout_s
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"another envkit ({_holder(fd)}) still holds the lock on {project} "
                        f"after {timeout_s:g}s",
                        hint="wait for it to finish (or stop it); the lock goes when that "
                        f"process exits. Lock file: {path}",
                    )
                time.sleep(poll_s)
        info = {"pid": os.getpid(), "since": datetime.now(UTC).isoformat(timespec="seconds")}
        data = json.dumps(info).encode()
        with contextlib.suppress(OSError):  # a full disk: locked, but cannot say by whom
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        try:
            yield path
        finally:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

"""Host-port reservations across instances: the plan-time port check cannot see a port
that another envkit is about to publish (its container is not started yet, often while it
waits for a slow dependency), so parallel ``up``s of different instances all planned the
same fixed port as free, and all but one failed half-way with "port is already allocated".

``up`` therefore holds a lock per fixed host port it publishes, from before it observes the
engine until its containers are started: a second ``up`` that wants the same port waits for
the first to finish, then observes the engine and sees the port taken (a ``port-in-use``
conflict naming the container that holds it, before anything is created) or free (the first
one failed). Locks are taken in sorted order, so two instances never wait on each other.

The key is the engine and (port, protocol), not the address: ``0.0.0.0:8080`` and
``127.0.0.1:8080`` overlap, so they must exclude each other; after the wait, the planner
decides with the addresses. The locks are flocks in the per-user private state folder
(:mod:`envkit.statedir`), like the instance lock: they exclude one user's runs. Runs of
two users on one engine are not excluded (a shared folder is what the state folder
refuses, by design); for them the engine's own refusal remains.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from envkit.errors import LockTimeout
from envkit.model import DesiredState
from envkit.statedir import open_private, private_dir

__all__ = ["fixed_ports", "port_locks"]


def fixed_ports(desired: DesiredState) -> list[tuple[int, str]]:
    """The (host port, protocol) pairs ``desired`` publishes on a fixed host port, sorted."""
    return sorted(
        {(p.published, p.protocol) for s in desired.services for p in s.ports if p.published}
    )


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {int(info['pid'])}, project {info['project']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "pid unknown"


def _try(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def port_locks(
    ports: Iterable[tuple[int, str]],
    *,
    project: str,
    engine_id: str,
    timeout_s: float = 600.0,
    on_wait: Callable[[str], None] | None = None,
    poll_s: float = 0.1,
    environment: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """Hold the reservation of each (port, protocol) of ``ports`` for the ``with`` block,
    waiting (saying so once per port through ``on_wait``) up to ``timeout_s`` in all."""
    wanted = sorted(set(ports))
    if not wanted:
        yield
        return
    directory = private_dir("ports", environ=environment)
    deadline = time.monotonic() + timeout_s
    fds: list[int] = []
    try:
        for port, proto in wanted:
            key = hashlib.sha256(f"{engine_id}\0{port}/{proto}".encode()).hexdigest()[:12]
            fd = open_private(directory / f"{port}-{proto}.{key}.lock")
            fds.append(fd)
            if not _try(fd):
                if on_wait is not None:
                    on_wait(
                        f"waiting for another envkit ({_holder(fd)}) that is publishing "
                        f"host port {port}/{proto}"
                    )
                while not _try(fd):
                    if time.monotonic() >= deadline:
                        raise LockTimeout(
                            f"another envkit ({_holder(fd)}) still holds host port "
                            f"{port}/{proto} after {timeout_s:g}s",
                            hint="wait for it to finish (or stop it), or publish another "
                            "host port for this environment",
                        )
                    time.sleep(poll_s)
            info = {"pid": os.getpid(), "project": project}
            with contextlib.suppress(OSError):
                data = json.dumps(info).encode()
                os.pwrite(fd, data, 0)
                os.ftruncate(fd, len(data))
        yield
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

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
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from envkit.errors import LockTimeout
from envkit.model import DesiredState
from envkit.reconcile.lock import acquire
from envkit.statedir import open_private, private_dir

__all__ = ["MAX_RANGE_LOCKS", "fixed_ports", "port_locks"]


# A host range (``8000-8010:80``) is reserved port by port, so that the port the engine
# picks from it is not one a parallel envkit is about to publish; a wider range than this
# is not (one open file per port), and for it the engine's own refusal remains.
MAX_RANGE_LOCKS = 64


def fixed_ports(desired: DesiredState) -> list[tuple[int, str]]:
    """The (host port, protocol) pairs ``desired`` publishes on a fixed host port, or may
    publish from a host range of at most :data:`MAX_RANGE_LOCKS` ports, sorted."""
    return sorted(
        {
            (port, p.protocol)
            for s in desired.services
            for p in s.ports
            if len(p.host_ports) <= MAX_RANGE_LOCKS
            for port in p.host_ports
        }
    )


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
            shown = f"{port}/{proto}"

            def waiting(who: str, shown: str = shown) -> str:
                return f"waiting for another envkit ({who}) that is publishing host port {shown}"

            def timed_out(who: str, shown: str = shown) -> LockTimeout:
                return LockTimeout(
                    f"another envkit ({who}) still holds host port {shown} after {timeout_s:g}s",
                    hint="wait for it to finish (or stop it), or publish another host port "
                    "for this environment",
                )

            acquire(
                fd,
                deadline=deadline,
                poll_s=poll_s,
                on_wait=on_wait,
                waiting=waiting,
                timed_out=timed_out,
                info={"pid": os.getpid(), "project": project},
            )
        yield
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

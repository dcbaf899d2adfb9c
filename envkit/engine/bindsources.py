"""Bind mount sources that do not exist yet, looked at on this host before the engine is
asked to create them.

Compose's short syntax (and the long one with ``bind.create_host_path``) has the engine
create a missing source folder: the daemon makes it, as root, mode 0755, following every
symbolic link on the way. A stack file from someone else could then have root create a
folder wherever a symlink it ships points (``./data -> /etc/cron.d``). So before that, the
path is walked component by component without following links: a symbolic link on the way,
or a component that is not a folder (a file, a FIFO, a device, a socket), blocks the
creation; the first missing component ends the walk. A source that exists is not looked
at (binding it is the engine's business, as before). A component we may not look at
(permission denied) leaves the path to the engine as well: it is not ours to judge.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable

from envkit.engine.base import BindSource
from envkit.model import DesiredState, MountType

__all__ = ["BindProbe", "missing_binds", "probe_bind_source"]

# host path -> None (it exists, or cannot be checked) or what is missing and whether blocked
BindProbe = Callable[[str], BindSource | None]


def probe_bind_source(path: str) -> BindSource | None:
    """``path`` (absolute, normalised) when it does not exist: creatable, or blocked and why."""
    try:
        os.lstat(path)
        return None  # it exists (whatever it is): the engine binds it
    except (FileNotFoundError, NotADirectoryError):
        pass  # missing, or a file on the way: the walk says which
    except OSError:
        return None
    current = "/"
    for part in [p for p in path.split("/") if p]:
        current = os.path.join(current, part)
        try:
            info = os.lstat(current)
        except FileNotFoundError:
            return BindSource(path)  # from here on the engine creates the folders
        except OSError as exc:
            if exc.errno == errno.ENOTDIR:
                return BindSource(path, f"{os.path.dirname(current)} is not a folder")
            return None  # permission denied: the engine may see what we cannot
        if stat.S_ISLNK(info.st_mode):
            return BindSource(path, f"{current} is a symbolic link")
        if not stat.S_ISDIR(info.st_mode):
            return BindSource(path, f"{current} is not a folder")
    return None  # it appeared meanwhile


def missing_binds(desired: DesiredState, probe: BindProbe | None) -> dict[str, BindSource]:
    """The bind sources of ``desired`` that do not exist, by path (none without ``probe``)."""
    if probe is None:
        return {}
    sources = sorted(
        {m.source for s in desired.services for m in s.mounts if m.type is MountType.BIND}
    )
    found = {}
    for source in sources:
        missing = probe(source)
        if missing is not None:
            found[source] = missing
    return found

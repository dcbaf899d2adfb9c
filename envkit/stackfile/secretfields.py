"""Compose's ``secrets`` and ``configs`` from files, on a single engine (used by ``normalize``).

As docker-compose does outside Swarm, a secret or config whose top-level definition is
``file: PATH`` is the file mounted read-only into the service: a secret at
``/run/secrets/NAME`` (or ``/run/secrets/TARGET``, or an absolute ``target``), a config at
``/NAME`` (or its ``target``). ``uid``, ``gid`` and ``mode`` cannot apply to a mounted file
and are ignored, as by Compose. ``environment:``, ``content:`` and ``external:`` sources
need Swarm or a file envkit would have to write, and are refused with a hint.

The file's content never reaches output: the service's spec holds a digest of it, so a
changed secret recreates the service and the plan says ``secrets[/run/secrets/x]`` changed
without a value. The file must be a regular file of at most :data:`MAX_BYTES`.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

from envkit.errors import DocPath
from envkit.model import Mount, MountType
from envkit.stackfile.treereader import TreeReader

__all__ = ["MAX_BYTES", "mounted_files"]

MAX_BYTES = 1024 * 1024
_DEFAULT_DIR = {"secrets": "/run/secrets", "configs": ""}


def mounted_files(
    reader: TreeReader, kind: str, value: Any, path: DocPath, declared: dict[str, Any]
) -> tuple[tuple[Mount, ...], tuple[tuple[str, str], ...]]:
    """The read-only mounts of a service's ``secrets`` or ``configs`` (``kind``), and
    ``(target, digest)`` of each file's content."""
    mounts: list[Mount] = []
    digests: list[tuple[str, str]] = []
    for index, entry in enumerate(reader.items(value, path)):
        at = (*path, index)
        body = entry if isinstance(entry, dict) else {"source": entry}
        source = reader.string(body.get("source"), (*at, "source"))
        if not source:
            continue
        if source not in declared:
            reader.fail(
                f"unknown-{kind[:-1]}",
                f"{kind[:-1]} {source!r} is not declared under the top-level '{kind}'",
                at,
                hint=f"add it: '{kind}: {{{source}: {{file: ./{source}.txt}}}}'",
            )
            continue
        target = reader.string(body.get("target"), (*at, "target")) or source
        if not target.startswith("/"):
            target = f"{_DEFAULT_DIR[kind]}/{target}"
        file = _file_of(reader, kind, source, declared[source])
        if file is None:
            continue
        digest = _digest(reader, kind, source, file)
        if digest is None:
            continue
        mounts.append(Mount(MountType.BIND, target, str(file), read_only=True))
        digests.append((target, digest))
    return tuple(mounts), tuple(sorted(digests))


def _file_of(reader: TreeReader, kind: str, name: str, definition: Any) -> Path | None:
    at: DocPath = (kind, name)
    spec = reader.mapping(definition, at)
    file = reader.string(spec.get("file"), (*at, "file"))
    if file:
        return (reader.rendered.directory / os.path.expanduser(file)).resolve()
    other = next((k for k in ("environment", "content", "external") if spec.get(k)), None)
    reader.fail(
        f"unsupported-{kind[:-1]}-source",
        f"{kind[:-1]} {name!r} has no 'file:'"
        + (f"; '{other}:' needs Swarm or a file" if other else ""),
        at,
        hint=f"write the value to a file next to the stack file and use 'file: ./{name}.txt' "
        "(keep the file out of version control)",
        at_key=True,
    )
    return None


def _digest(reader: TreeReader, kind: str, name: str, file: Path) -> str | None:
    at: DocPath = (kind, name, "file")
    try:
        info = file.stat()
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError
        if info.st_size > MAX_BYTES:
            reader.fail(
                f"{kind[:-1]}-too-large",
                f"{kind[:-1]} file {file} is larger than {MAX_BYTES // 1024} KiB",
                at,
                hint="a secret or config is a small file",
            )
            return None
        fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        reader.fail(
            f"missing-{kind[:-1]}-file",
            f"{kind[:-1]} file {file} does not exist",
            at,
            hint="create it (keep it out of version control), or fix the path",
        )
        return None
    except OSError:
        reader.fail(
            f"unreadable-{kind[:-1]}-file",
            f"{kind[:-1]} file {file} is not a readable regular file",
            at,
            hint="point 'file:' at a regular file",
        )
        return None
    return "sha256:" + hashlib.sha256(data).hexdigest()[:16]

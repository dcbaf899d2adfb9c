"""``envkit cp ENV SRC DST``: copy between the host and a service's container, one side
written ``SERVICE:PATH`` (like ``docker compose cp``), replica ``--index N``.

The archive a container sends is untrusted (the container's files are whatever its
processes made them): it is unpacked with Python's ``data`` extraction filter, which
refuses absolute names, ``..``, links pointing outside the target and device/FIFO
entries, into a fresh folder next to the destination; only the one expected top entry
is then moved into place. Symlinks inside the copied tree stay symlinks, as with
``docker cp``. Towards a container, symlinks are sent as symlinks and device files or
FIFOs on the host are left out (named on stderr), so a FIFO cannot hang the copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from envkit.cli.commands.containers import select
from envkit.errors import EnvkitError, UsageError

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import ContainerRuntime

__all__ = ["Side", "cmd_cp", "parse_side", "unpack"]


@dataclass(frozen=True, slots=True)
class Side:
    service: str | None  # None: the host
    path: str


def parse_side(text: str) -> Side:
    """``SERVICE:PATH`` (a service name is ``[a-zA-Z0-9][a-zA-Z0-9_.-]*``) or a host path.
    A host path with a colon is written with a ``./`` or ``/`` in front."""
    head, sep, rest = text.partition(":")
    if sep and head and "/" not in head and not head.startswith("."):
        if not rest:
            raise UsageError(f"{text!r} names no path in the container", hint="e.g. db:/etc/hosts")
        return Side(head, rest)
    return Side(None, text)


class _Stream:
    """A byte iterator as a read-only file, for tarfile's stream mode."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        if size < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:size], self._buf[size:]
        return out


def unpack(chunks: Iterator[bytes], top: str, dest: Path) -> Path:
    """Unpack a container's archive whose top entry is ``top`` to ``dest``: into it when
    ``dest`` is a folder, else as ``dest`` itself. Returns where it went."""
    target = dest / top if dest.is_dir() else dest
    if not target.parent.is_dir():
        raise EnvkitError(
            f"{target.parent} is not a folder", code="no-such-path", hint="create it first"
        )
    scratch = Path(tempfile.mkdtemp(prefix=".envkit-cp-", dir=target.parent))
    try:
        with tarfile.open(fileobj=_Stream(chunks), mode="r|") as tar:  # type: ignore[call-overload]
            try:
                tar.extractall(scratch, filter="data")
            except (tarfile.FilterError, tarfile.ExtractError) as exc:
                raise EnvkitError(
                    f"refused the container's archive: {exc}",
                    code="unsafe-archive",
                    hint="it holds a path or link leading outside the destination, or a "
                    "device/FIFO; copy the files you need one by one",
                ) from exc
        got = scratch / top
        if not got.exists() and not got.is_symlink():
            raise EnvkitError(f"the container's archive holds no {top!r}", code="unsafe-archive")
        if target.is_dir() and not target.is_symlink() and got.is_dir():
            shutil.copytree(got, target, symlinks=True, dirs_exist_ok=True)
        else:
            os.replace(got, target)
        return target
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _pack(src: Path, arcname: str, out: IO[bytes], console: Console) -> None:
    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if info.isfile() or info.isdir() or info.issym() or info.islnk():
            return info
        console.err(f"warning: left out {info.name} (not a file, folder or link)")
        return None

    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.add(str(src), arcname=arcname, recursive=True, filter=keep)


def _from_container(
    eng: ContainerRuntime, cid: str, name: str, src: str, dst: Path, console: Console
) -> None:
    stat = eng.stat_path(cid, src)
    if stat is None:
        raise EnvkitError(f"{name} has no {src}", code="no-such-path")
    top = stat.name if stat.name not in ("", "/") else "."
    where = unpack(eng.read_archive(cid, src), top, dst)
    console.err(f"{name}:{src} -> {where}")


def _to_container(
    eng: ContainerRuntime, cid: str, name: str, src: Path, dst: str, console: Console
) -> None:
    if not src.exists() and not src.is_symlink():
        raise EnvkitError(f"{src} does not exist", code="no-such-path")
    stat = eng.stat_path(cid, dst)
    if stat is not None and stat.is_dir:
        folder, arcname = dst, src.name
    elif dst.endswith("/"):
        raise EnvkitError(f"{name} has no folder {dst}", code="no-such-path")
    else:
        folder, arcname = os.path.dirname(dst.rstrip("/")) or "/", os.path.basename(dst)
    with tempfile.TemporaryFile() as spool:
        _pack(src, arcname, spool, console)
        spool.seek(0)
        eng.write_archive(cid, folder, spool)
    console.err(f"{src} -> {name}:{dst}")


def cmd_cp(args: argparse.Namespace, console: Console) -> int:
    src, dst = parse_side(args.source), parse_side(args.destination)
    if (src.service is None) == (dst.service is None):
        raise UsageError(
            "one side of cp is SERVICE:PATH and the other a host path",
            hint=f"e.g. envkit cp {args.env} db:/etc/hosts ./hosts",
        )
    service = src.service or dst.service
    assert service is not None
    sel = select(args, console, [service], index=args.index)
    c = sel.containers[0]
    if src.service is not None:
        _from_container(sel.engine, c.id, c.name, src.path, Path(dst.path), console)
    else:
        _to_container(sel.engine, c.id, c.name, Path(src.path), dst.path, console)
    return 0

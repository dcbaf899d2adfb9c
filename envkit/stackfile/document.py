"""Read a stack file into a plain tree plus a source map (``file:line:col`` of every node).

Reading is bounded and never reaches a user as a traceback: at most :data:`MAX_BYTES` of
file; a missing, unreadable, non-regular or non-UTF-8 file is a located
:class:`StackError`. The tree itself is built by :mod:`envkit.stackfile.yamltree` (YAML 1.2 core
scalars, at most :data:`MAX_DEPTH` levels, :data:`MAX_NODES` nodes and
:data:`MAX_ALIAS_NODES` nodes expanded from aliases; duplicate keys are errors); this
module adds what makes it a stack file: one non-empty mapping, wrapped in a
:class:`Document` that answers "where did this value come from?".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envkit.errors import DocPath, Origin, StackError
from envkit.hints import kind_of
from envkit.stackfile.dialect import Dialect, dialect_of, stack_name
from envkit.stackfile.yamltree import MAX_ALIAS_NODES, MAX_DEPTH, MAX_NODES, build

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "Document",
    "load",
    "parse",
]

MAX_BYTES = 4 * 1024 * 1024

_HINT_F = "pass the stack file with -f FILE (the default is ./envkit.yaml, else ./compose.yaml, compose.yml, docker-compose.yml or docker-compose.yaml)"


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed stack file: its plain data and where every value and key came from."""

    path: Path  # absolute
    display: str  # as the user gave it; used in messages
    data: dict[str, Any]
    value_origins: Mapping[DocPath, Origin] = field(default_factory=dict, repr=False, compare=False)
    key_origins: Mapping[DocPath, Origin] = field(default_factory=dict, repr=False, compare=False)
    # The files (as displayed in origins) read in the Compose dialect: no Jinja2 in them.
    compose_files: frozenset[str] = frozenset()
    # Every file this document was read from (several -f, override, include, extends).
    sources: tuple[Path, ...] = ()

    @property
    def directory(self) -> Path:
        """The folder of the stack file; relative bind mounts and env files resolve here."""
        return self.path.parent

    @property
    def stack_name(self) -> str:
        """``stack:``, else ``name:``, else the folder's name (``envkit.stackfile.dialect``)."""
        return stack_name(self.data, self.directory)

    def origin(self, path: DocPath) -> Origin | None:
        """Position of the value at ``path``, or of its nearest existing ancestor."""
        path = tuple(path)
        while True:
            found = self.value_origins.get(path)
            if found is not None or not path:
                return found
            path = path[:-1]

    def key_origin(self, path: DocPath) -> Origin | None:
        """Position of the mapping key at ``path`` (for unknown keys); else :meth:`origin`."""
        return self.key_origins.get(tuple(path)) or self.origin(path)


def load(path: str | os.PathLike[str], *, display: str | None = None) -> Document:
    """Read and parse the stack file at ``path``; every problem is a :class:`StackError`."""
    shown = display if display is not None else os.fspath(path)
    absolute = Path(os.path.abspath(path))
    return parse(_read(absolute, shown), path=absolute, display=shown)


def _fail(code: str, message: str, hint: str | None, origin: Origin | None = None) -> StackError:
    return StackError.single(code, message, origin=origin, hint=hint)


def _read(path: Path, shown: str) -> bytes:
    import stat

    try:
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise _fail("unreadable", f"{shown} is a directory, not a stack file", _HINT_F)
        if not stat.S_ISREG(mode):
            raise _fail("unreadable", f"{shown} is not a regular file", _HINT_F)
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise _fail("unreadable", f"{shown} does not exist", _HINT_F) from None
    except PermissionError:
        raise _fail("unreadable", f"{shown} cannot be read: permission denied", _HINT_F) from None
    except OSError as exc:
        raise _fail(
            "unreadable", f"{shown} cannot be read: {exc.strerror or exc}", _HINT_F
        ) from None
    if len(data) > MAX_BYTES:
        raise _fail(
            "file-too-large",
            f"{shown} is larger than {MAX_BYTES // (1024 * 1024)} MiB",
            "a stack file is a few kilobytes; check that -f names the right file",
        )
    return data


def parse(data: bytes | str, *, path: Path, display: str) -> Document:
    """Parse stack-file contents (``load`` without the file system)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BYTES:
        raise _fail("file-too-large", f"{display} is larger than 4 MiB", None)
    _check_utf8(data, display)
    tree = build(data, display)
    root = tree.root
    if root is None:
        raise _fail(
            "empty-file",
            "the stack file is empty",
            "start with 'stack: NAME' and a 'services:' mapping",
            Origin(display, 1, 1),
        )
    if not isinstance(root, dict):
        raise _fail(
            "not-a-mapping",
            f"the document is {kind_of(root)}, expected a mapping",
            "a stack file is a mapping with 'stack:' and 'services:' keys",
            tree.value_origins.get(()),
        )
    compose = frozenset({display}) if dialect_of(root) is Dialect.COMPOSE else frozenset()
    return Document(
        path, display, root, tree.value_origins, tree.key_origins, compose, sources=(path,)
    )


def _check_utf8(data: bytes, display: str) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        hint = "save the file as UTF-8"
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            hint = "the file looks like UTF-16; save it as UTF-8"
        raise _fail(
            "not-utf8",
            f"the file is not valid UTF-8: byte 0x{data[exc.start]:02x} at offset {exc.start}",
            hint,
            Origin(display, line, col),
        ) from None

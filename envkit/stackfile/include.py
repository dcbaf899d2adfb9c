"""Top-level ``include:``: take services and volumes from Compose files, kept as they are.

Compose's own key (Compose Specification, "Include"), so the same line works in a Compose
file and in an envkit stack file. The usual use: a team keeps its ``compose.yaml``
unchanged and writes a small ``envkit.yaml`` next to it::

    include: [compose.yaml]
    environments:
      dev:  {env_file: [.env.dev]}
      test: {ephemeral_ports: true, services: {web: {restart: always}}}

Rules:

- An entry is a path, or ``{path: PATH}`` / ``{path: [PATH, ...]}`` (several files merged
  with Compose's rules, as with several ``-f``). Paths are relative to the including file.
- An included file is always read as a Compose file (no Jinja2 in it); one with envkit's
  own keys is refused. It may include files itself (at most :data:`MAX_DEPTH` levels; a
  cycle is an error).
- Its ``services`` and ``volumes`` join the including file's; a name defined on both sides
  is an error, as in Compose ("conflicts with imported resource"): change it in one place,
  or override it per environment under ``environments.ENV.services``. Its ``name``,
  ``version`` and ``x-`` keys stay its own.
- The included file must sit in the same folder as the including one: envkit resolves
  relative paths (bind mounts, env files, build contexts) against the stack file's folder.
  ``project_directory`` and ``env_file`` of an entry are not supported.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from envkit.errors import Diagnostic, PathPart, StackError
from envkit.stackfile.dialect import ENVKIT_KEYS
from envkit.stackfile.document import Document, load
from envkit.stackfile.merge import merge_documents

__all__ = ["MAX_DEPTH", "with_includes"]

MAX_DEPTH = 8
_SHARED = ("services", "volumes")


def with_includes(doc: Document, *, _seen: tuple[str, ...] = ()) -> Document:
    """``doc`` with every file of its ``include:`` merged in (recursively)."""
    entries = doc.data.get("include")
    if not isinstance(entries, list) or not entries:
        return doc
    seen = (*_seen, os.path.realpath(doc.path))
    problems: list[Diagnostic] = []
    included: list[Document] = []
    for index, entry in enumerate(entries):
        at: tuple[PathPart, ...] = ("include", index)
        names = entry.get("path") if isinstance(entry, dict) else entry
        if isinstance(entry, dict):
            at = (*at, "path")
        listed = names if isinstance(names, list) else [names]
        docs: list[Document] = []
        for position, name in enumerate(listed):
            where = (*at, position) if isinstance(names, list) else at
            if not isinstance(name, str):  # the schema's to report
                continue
            loaded = _load(doc, name, where, seen, problems)
            if loaded is not None:
                docs.append(loaded)
        if docs:
            included.append(merge_documents(docs))
    if problems:
        raise StackError(problems)
    for other in included:
        problems.extend(_conflicts(doc, other))
    if problems:
        raise StackError(problems)
    shared = [
        replace(other, data={k: v for k, v in other.data.items() if k in _SHARED})
        for other in included
    ]
    return merge_documents([doc, *shared])


def _load(
    doc: Document,
    name: str,
    at: tuple[PathPart, ...],
    seen: tuple[str, ...],
    problems: list[Diagnostic],
) -> Document | None:
    def fail(code: str, message: str, hint: str) -> None:
        problems.append(Diagnostic(code, message, at, doc.origin(at), hint))

    path = doc.directory / name
    if os.path.realpath(path.parent) != os.path.realpath(doc.directory):
        fail(
            "include-elsewhere",
            f"'{name}' is not in the folder of {doc.display}",
            "envkit resolves relative paths against the stack file's folder: put the "
            "including file next to the Compose file (or merge them with several -f)",
        )
        return None
    if os.path.realpath(path) in seen:
        fail("include-cycle", f"'{name}' includes itself (through {doc.display})", "remove it")
        return None
    if len(seen) > MAX_DEPTH:
        fail("include-depth", f"more than {MAX_DEPTH} levels of include", "include less deeply")
        return None
    display = os.path.join(os.path.dirname(doc.display), name)
    try:
        loaded = load(path, display=display)
    except StackError as exc:
        problems.extend(exc.diagnostics)
        return None
    keys = [k for k in ENVKIT_KEYS if k in loaded.data]
    if keys:
        fail(
            "include-envkit-file",
            f"'{name}' is an envkit stack file ('{keys[0]}'); include reads Compose files",
            "merge envkit stack files with several -f instead",
        )
        return None
    loaded = replace(loaded, compose_files=frozenset({display}))
    try:
        return with_includes(loaded, _seen=seen)
    except StackError as exc:
        problems.extend(exc.diagnostics)
        return None


def _conflicts(doc: Document, other: Document) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for kind in _SHARED:
        mine: Any = doc.data.get(kind)
        theirs: Any = other.data.get(kind)
        if not isinstance(mine, dict) or not isinstance(theirs, dict):
            continue
        for name in mine.keys() & theirs.keys():
            path = (kind, name)
            first = other.key_origin(path)
            out.append(
                Diagnostic(
                    "include-conflict",
                    f"{kind}.{name} is also defined in the included file"
                    + (f" ({first})" if first else ""),
                    path,
                    doc.key_origin(path),
                    "define it in one place; change it per environment under "
                    f"'environments.ENV.{kind}'" if kind == "services" else
                    "define it in one place",
                )
            )  # fmt: skip
    return sorted(out, key=lambda d: (d.origin.line, d.origin.col) if d.origin else (0, 0))

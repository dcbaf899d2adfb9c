"""Compose's service ``extends``: a service built on another one, in this file or another.

``extends: base`` or ``extends: {service: base, file: common.yaml}``: the base service's
keys, then this service's on top, merged with Compose's merge rules
(``envkit.stackfile.merge``: mappings merge, ``command`` is replaced, ``ports`` and
``volumes`` are unique ...). A base may extend another one (a cycle is an error). Every
key keeps the ``file:line:col`` where it was written, in the base or here. The other file
is read as a Compose file and must sit in the same folder (relative paths resolve against
the stack file's folder); only its service is taken, not its volumes or networks.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from envkit.errors import Diagnostic, DocPath, StackError
from envkit.stackfile.document import Document, load
from envkit.stackfile.merge import merge_subtrees

__all__ = ["with_extends"]

Part = tuple[Document, DocPath]


def with_extends(doc: Document) -> Document:
    """``doc`` with every service that ``extends`` another one merged onto its base."""
    services = doc.data.get("services")
    if not isinstance(services, dict) or not any(
        isinstance(body, dict) and "extends" in body for body in services.values()
    ):
        return doc
    problems: list[Diagnostic] = []
    files: dict[str, Document] = {}
    data = dict(doc.data)
    data["services"] = dict(services)
    value_origins = dict(doc.value_origins)
    key_origins = dict(doc.key_origins)
    compose = set(doc.compose_files)
    for name, body in services.items():
        if not (isinstance(body, dict) and "extends" in body):
            continue
        try:
            parts = _chain(doc, name, files, ())
        except StackError as exc:
            problems.extend(exc.diagnostics)
            continue
        at: DocPath = ("services", name)
        tree, values, keys = merge_subtrees(parts, at)
        tree = {k: v for k, v in tree.items() if k != "extends"}
        data["services"][name] = tree
        for origins, new in ((value_origins, values), (key_origins, keys)):
            for path in [p for p in origins if p[:2] == at and len(p) > 2]:
                del origins[path]
            origins.update({p: o for p, o in new.items() if p[:3] != (*at, "extends")})
        compose.update(d.display for d, _ in parts if d is not doc and d.compose_files)
    if problems:
        raise StackError(problems)
    return replace(
        doc,
        data=data,
        value_origins=value_origins,
        key_origins=key_origins,
        compose_files=frozenset(compose),
        sources=tuple(
            dict.fromkeys((*doc.sources, *(p for d in files.values() for p in d.sources)))
        ),
    )


def _chain(
    doc: Document, name: str, files: dict[str, Document], seen: tuple[tuple[str, str], ...]
) -> list[Part]:
    """The parts to merge for service ``name`` of ``doc``: its bases first, itself last."""
    at: DocPath = ("services", name)
    here = (str(doc.path), name)
    if here in seen:
        raise StackError.single(
            "extends-cycle",
            f"service {name} extends itself (through {' -> '.join(n for _, n in seen)})",
            path=(*at, "extends"),
            origin=doc.origin((*at, "extends")),
            hint="remove one of the extends",
        )
    body = doc.data["services"][name]
    ext: Any = body.get("extends") if isinstance(body, dict) else None
    if ext is None:
        return [(doc, at)]
    base_name = ext.get("service") if isinstance(ext, dict) else ext
    file = ext.get("file") if isinstance(ext, dict) else None
    ext_at: DocPath = (*at, "extends")
    if not isinstance(base_name, str) or not (file is None or isinstance(file, str)):
        return [(doc, at)]  # the schema reports the shape
    source = doc if file is None else _other(doc, file, files, ext_at)
    services = source.data.get("services")
    if not isinstance(services, dict) or base_name not in services:
        raise StackError.single(
            "unknown-service",
            f"service {name} extends {base_name!r}, which is not a service"
            + (f" of {source.display}" if file else ""),
            path=ext_at,
            origin=doc.origin(ext_at),
            hint="name a service defined under 'services'",
        )
    return [*_chain(source, base_name, files, (*seen, here)), (doc, at)]


def _other(doc: Document, file: str, files: dict[str, Document], at: DocPath) -> Document:
    path = doc.directory / file
    if os.path.realpath(path.parent) != os.path.realpath(doc.directory):
        raise StackError.single(
            "extends-elsewhere",
            f"'{file}' is not in the folder of {doc.display}",
            path=at,
            origin=doc.origin(at),
            hint="envkit resolves relative paths against the stack file's folder: keep the "
            "extended file next to it",
        )
    key = os.path.realpath(path)
    if key not in files:
        display = os.path.join(os.path.dirname(doc.display), file)
        loaded = load(path, display=display)
        files[key] = replace(loaded, compose_files=frozenset({display}))
    return files[key]

"""Merge several stack files into one, with Compose's merge rules; every node keeps its origin.

The rules are the Compose Specification's ("Merge and override") as compose-go applies them:

- mappings merge: missing keys are added, keys present in both merge recursively;
  an ``x-`` key is replaced as a whole;
- sequences are appended, except
  - ``command``, ``entrypoint`` and ``healthcheck.test``, which the later file replaces;
  - the *unique resources*: a later entry replaces an earlier one with the same key, in
    place: ``volumes`` (the target path), ``ports`` (host ip, published port, target
    port, protocol), ``secrets`` and ``configs`` (the target), ``environment``, ``labels``,
    ``build.args``, ``build.labels``, ``sysctls`` and ``annotations`` (the name, in ``K=V``
    or mapping form);
  - every other sequence of plain values (``dns``, ``expose``, ``cap_add``, ``profiles``,
    ``extra_hosts`` ...) drops an entry equal to one it already has;
- ``depends_on`` and a service's ``networks`` in list form merge with the mapping form
  as if written ``{name: {}}``; ``environment``/``labels`` in list and mapping form merge
  by name;
- ``logging`` options merge only when both files name the same driver (or one none);
- anything else (scalars, a mapping against a list) takes the later file's value.

Every node of the result knows the file, line and column it came from, so an error in
any file points into that file. Compose's ``!reset`` and ``!override`` tags are not
supported (the YAML reader refuses unknown tags with a located error).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from envkit.errors import Origin, PathPart
from envkit.stackfile.document import Document

__all__ = ["merge_documents", "merge_subtrees"]

DocPath = tuple[PathPart, ...]
Source = tuple[int, DocPath]  # (index of the document, path in it)

_REPLACED = frozenset({"command", "entrypoint"})
_KEYED = frozenset({"environment", "labels", "sysctls", "annotations"})
_BY_TARGET = frozenset({"volumes", "secrets", "configs"})
_AS_MAPPING = frozenset({"depends_on", "networks"})


def merge_documents(docs: Sequence[Document]) -> Document:
    """One Document from ``docs`` merged in order (a later file overrides an earlier one).
    Its path, folder and name are the first file's, as in Compose."""
    first = docs[0]
    if len(docs) == 1:
        return first
    merger = _Merger()
    tree: Any = first.data
    for index, doc in enumerate(docs[1:], 1):
        tree = merger.merge(tree, doc.data, (), (index, ()))
    value_origins: dict[DocPath, Origin] = {}
    key_origins: dict[DocPath, Origin] = {}
    for path in _paths(tree, ()):
        index, source = merger.source_of(path)
        doc = docs[index]
        if (found := doc.value_origins.get(source)) is not None:
            value_origins[path] = found
        if (found := doc.key_origins.get(source)) is not None:
            key_origins[path] = found
    compose = frozenset().union(*(doc.compose_files for doc in docs))
    sources = tuple(dict.fromkeys(p for doc in docs for p in doc.sources))
    return Document(
        first.path, first.display, tree, value_origins, key_origins, compose, sources=sources
    )


def merge_subtrees(
    parts: Sequence[tuple[Document, DocPath]], at: DocPath
) -> tuple[Any, dict[DocPath, Origin], dict[DocPath, Origin]]:
    """The subtrees ``parts`` (a document and a path in it) merged in order as if they
    were at ``at`` (``("services", NAME)`` for ``extends``: the service rules apply), with
    the origins of every node under ``at``."""
    merger = _Merger(root=(at, (0, parts[0][1])))
    first_doc, first_path = parts[0]
    tree: Any = _get(first_doc.data, first_path)
    for index, (doc, path) in enumerate(parts[1:], 1):
        tree = merger.merge(tree, _get(doc.data, path), at, (index, path))
    value_origins: dict[DocPath, Origin] = {}
    key_origins: dict[DocPath, Origin] = {}
    for path in _paths(tree, at):
        index, source = merger.source_of(path)
        doc = parts[index][0]
        if (found := doc.value_origins.get(source)) is not None:
            value_origins[path] = found
        if (found := doc.key_origins.get(source)) is not None:
            key_origins[path] = found
    return tree, value_origins, key_origins


def _get(tree: Any, path: DocPath) -> Any:
    for part in path:
        tree = tree[part]
    return tree


class _Merger:
    """Merges trees and records, for every node placed from a later file, where it came
    from; a node with no record of its own comes from its nearest recorded ancestor."""

    def __init__(self, root: tuple[DocPath, Source] = ((), (0, ()))) -> None:
        self.sources: dict[DocPath, Source] = {root[0]: root[1]}

    def source_of(self, path: DocPath) -> Source:
        for cut in range(len(path), -1, -1):
            found = self.sources.get(path[:cut])
            if found is not None:
                index, at = found
                return index, (*at, *path[cut:])
        raise AssertionError("the root always has a source")  # pragma: no cover

    def place(self, path: DocPath, source: Source) -> None:
        """The node at ``path`` is now ``source``'s: forget what was recorded below it."""
        for key in [k for k in self.sources if len(k) > len(path) and k[: len(path)] == path]:
            del self.sources[key]
        self.sources[path] = source

    def merge(self, base: Any, over: Any, path: DocPath, source: Source) -> Any:
        key = path[-1] if path else None
        in_service = len(path) == 3 and path[0] == "services"
        if (in_service and key in _REPLACED) or path[-2:] == ("healthcheck", "test"):
            return self._replace(over, path, source)
        if in_service and key in _AS_MAPPING:
            base, over = _as_mapping(base), _as_mapping(over)
        both_mappings = isinstance(base, dict) and isinstance(over, dict)
        keyed = (in_service and key in _KEYED) or path[-2:] in (
            ("build", "args"),
            ("build", "labels"),
        )
        if keyed and not both_mappings:
            return self._keyed(base, over, path, source)
        if in_service and key == "logging" and both_mappings:
            driver = base.get("driver")
            if driver not in (None, over.get("driver", driver)):
                return self._replace(over, path, source)
        if isinstance(base, dict) and isinstance(over, dict):
            out = dict(base)
            for name, value in over.items():
                here = (*path, name)
                there: Source = (source[0], (*source[1], name))
                if name in base and not str(name).startswith("x-"):
                    out[name] = self.merge(base[name], value, here, there)
                else:
                    out[name] = self._replace(value, here, there)
            return out
        if isinstance(base, list) and isinstance(over, list):
            if in_service and key in _BY_TARGET:
                return self._unique(base, over, path, source, _target)
            if in_service and key == "ports":
                return self._unique(base, over, path, source, _port)
            return self._unique(base, over, path, source, _plain)
        return self._replace(over, path, source)

    def _replace(self, value: Any, path: DocPath, source: Source) -> Any:
        self.place(path, source)
        return value

    def _keyed(self, base: Any, over: Any, path: DocPath, source: Source) -> list[Any]:
        """``environment``/``labels`` where one side is a ``K=V`` list: both as lists,
        merged by name; each entry keeps the origin of the key or item it was written as."""
        entries: list[str] = []
        sources: list[Source] = []
        for text, at in _as_pairs(base):
            entries.append(text)
            sources.append(self.source_of((*path, at)))
        self.place(path, self.source_of(path))
        for i, source_i in enumerate(sources):
            self.sources[(*path, i)] = source_i
        over_entries = [(text, (source[0], (*source[1], at))) for text, at in _as_pairs(over)]
        return self._unique(entries, over_entries, path, source, _name)

    def _unique(
        self, base: list[Any], over: list[Any], path: DocPath, source: Source, key: Any
    ) -> list[Any]:
        """``base`` + ``over``; an entry of ``over`` whose key an earlier entry has replaces
        it in place (entries without a key are appended)."""
        out = list(base)
        index = {k: i for i, e in enumerate(out) if (k := key(e)) is not None}
        for i, entry in enumerate(over):
            entry_source: Source = (source[0], (*source[1], i))
            if isinstance(entry, tuple):  # from _keyed: (text, its source)
                entry, entry_source = entry
            k = key(entry)
            if k is not None and k in index:
                at = index[k]
                out[at] = entry
            else:
                out.append(entry)
                at = len(out) - 1
                if k is not None:
                    index[k] = at
            self.place((*path, at), entry_source)
        return out


def _paths(value: Any, path: DocPath) -> Iterator[DocPath]:
    yield path
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, (*path, i))


def _as_mapping(value: Any) -> Any:
    """``[a, b]`` -> ``{a: {}, b: {}}`` (depends_on, networks); anything else unchanged."""
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return {v: {} for v in value}
    return value


def _as_pairs(value: Any) -> list[tuple[str, PathPart]]:
    """``environment``/``labels`` as ``K=V`` texts, each with the key or index it had."""
    if isinstance(value, dict):
        return [(k if v is None else f"{k}={_text(v)}", k) for k, v in value.items()]
    if isinstance(value, list):
        return [(_text(v), i) for i, v in enumerate(value)]
    return []


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _name(entry: Any) -> str | None:
    return entry.partition("=")[0] if isinstance(entry, str) else None


def _plain(entry: Any) -> Any:
    return entry if isinstance(entry, str | int | float | bool) else None


def _target(entry: Any) -> str | None:
    if isinstance(entry, dict):
        target = entry.get("target")
        if target is None and isinstance(entry.get("source"), str):  # secrets, configs
            return f"/run/secrets/{entry['source']}"
        return str(target) if target is not None else None
    if isinstance(entry, str):
        parts = entry.split(":")
        return parts[1] if len(parts) > 1 else parts[0]
    return None


def _port(entry: Any) -> str | None:
    if isinstance(entry, dict):
        ip = entry.get("host_ip") or "0.0.0.0"
        return f"{ip}:{entry.get('published', '')}:{entry.get('target')}/" + str(
            entry.get("protocol") or "tcp"
        )
    if isinstance(entry, int) and not isinstance(entry, bool):
        return f"0.0.0.0::{entry}/tcp"
    if isinstance(entry, str):
        spec, _, proto = entry.partition("/")
        parts = spec.rsplit(":", 2)
        target = parts[-1]
        published = parts[-2] if len(parts) > 1 else ""
        ip = parts[0] if len(parts) > 2 else "0.0.0.0"
        return f"{ip}:{published}:{target}/{proto or 'tcp'}"
    return None

"""Build a plain tree and its source map from PyYAML *events*, with hard bounds.

The tree is built directly from the event stream (libyaml's parser when available,
PyYAML's pure-Python one otherwise), iteratively and with hard bounds, so that no input
can hang the reader, exhaust its memory or reach a user as a traceback:

- at most :data:`MAX_DEPTH` levels of nesting and :data:`MAX_NODES` nodes in all;
- an alias (``*name``) is expanded by copying the anchored value; the copies may add up to
  at most :data:`MAX_ALIAS_NODES` nodes, which refuses a "billion laughs" before it grows;
- duplicate keys and non-string keys are errors (YAML would keep the last key silently);
- merge keys (``<<: *base``) are supported as in Compose: explicit keys win, then the
  merged mappings in order.

Scalars resolve with the YAML 1.2 core schema, as Compose does (:mod:`envkit.stackfile.yamlcore`):
``restart: no`` means ``"no"`` and ``8080:80`` is the string ``"8080:80"``.

Every problem is a :class:`StackError` located at ``display:line:col``. What the tree must
look like as a stack file (a non-empty mapping) is :mod:`envkit.stackfile.document`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import yaml

from envkit.errors import Diagnostic, DocPath, Origin, StackError
from envkit.stackfile.yamlcore import STANDARD_TAG, TooManyDigits, resolve_plain, resolve_tagged
from envkit.stackfile.yamlparse import copy_tree, event_parser, reader_error, yaml_error

__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "MAX_NODES", "YamlTree", "build"]

MAX_DEPTH = 64
MAX_NODES = 250_000
MAX_ALIAS_NODES = 50_000


@dataclass(frozen=True, slots=True)
class YamlTree:
    """One YAML document as plain data, with the position of every value and key."""

    root: Any  # None for an empty document
    value_origins: dict[DocPath, Origin]
    key_origins: dict[DocPath, Origin]


def build(data: bytes, display: str) -> YamlTree:
    """Build the tree of the one YAML document in ``data`` (valid UTF-8); positions name
    ``display``. Raises StackError with every duplicate or non-string key found, or with
    the first structural problem (bad YAML, bounds, aliases, tags, merges)."""
    builder = _Builder(display)
    root = builder.run(data)
    if builder.diagnostics:
        raise StackError(sorted(builder.diagnostics, key=_position))
    return YamlTree(root, builder.value_origins, builder.key_origins)


def _fail(code: str, message: str, hint: str | None, origin: Origin | None = None) -> StackError:
    return StackError.single(code, message, origin=origin, hint=hint)


def _position(diag: Diagnostic) -> tuple[int, int]:
    return (diag.origin.line, diag.origin.col) if diag.origin else (0, 0)


# --- building the tree from events --------------------------------------------------------


class _Merge:
    """The ``<<`` merge key, as a path part that can never clash with a real key."""

    def __repr__(self) -> str:
        return "<<"


_MERGE = _Merge()


@dataclass(slots=True)
class _Frame:
    value: dict[Any, Any] | list[Any]
    path: DocPath
    anchor: str | None
    start: int  # index into the builder's entries where this node's subtree starts
    key: Any = None  # mappings: the key waiting for its value (None = expecting a key)
    has_key: bool = False
    first_keys: dict[str, Origin] = field(default_factory=dict)
    merges: list[tuple[dict[str, Any], int, int, DocPath]] = field(default_factory=list)


class _Builder:
    def __init__(self, display: str) -> None:
        self.display = display
        self.value_origins: dict[DocPath, Origin] = {}
        self.key_origins: dict[DocPath, Origin] = {}
        # (path, is_key, origin) in document order; an anchored node's subtree is a slice.
        self.entries: list[tuple[DocPath, bool, Origin]] = []
        self.anchors: dict[str, tuple[Any, DocPath, int, int]] = {}
        self.open_anchors: set[str] = set()
        self.diagnostics: list[Diagnostic] = []
        self.alias_nodes = 0
        self.merged = False  # a '<<' was seen: drop its temporary entries at the end

    def at(self, mark: Any) -> Origin:
        return Origin(self.display, mark.line + 1, mark.column + 1)

    def fail(
        self, code: str, message: str, mark: Any, hint: str | None = None, path: DocPath = ()
    ) -> StackError:
        return StackError.single(code, message, path=path, origin=self.at(mark), hint=hint)

    def run(self, data: bytes) -> Any:
        parser = event_parser(data)
        try:
            root = self._document(parser)
        except yaml.MarkedYAMLError as exc:
            raise yaml_error(exc, data, self.display) from None
        except yaml.reader.ReaderError as exc:
            raise reader_error(exc, data, self.display) from None
        except yaml.YAMLError as exc:
            raise _fail("invalid-yaml", f"invalid YAML: {exc}", None) from None
        finally:
            dispose = getattr(parser, "dispose", None)
            if dispose is not None:
                dispose()
        merged = self.merged
        for path, is_key, origin in self.entries:
            if merged and _MERGE in cast(tuple[object, ...], path):
                continue
            (self.key_origins if is_key else self.value_origins)[path] = origin
        return root

    def _document(self, parser: Any) -> Any:
        parser.get_event()  # StreamStart
        if parser.check_event(yaml.StreamEndEvent):
            return None
        parser.get_event()  # DocumentStart
        root = self._node(parser)
        parser.get_event()  # DocumentEnd
        if parser.check_event(yaml.DocumentStartEvent):
            raise self.fail(
                "multiple-documents",
                "the file holds more than one YAML document",
                parser.peek_event().start_mark,
                "a stack file is one document; remove the '---' separator and what follows",
            )
        return root

    def _node(self, parser: Any) -> Any:
        """Build one node (and everything under it) without recursion."""
        stack: list[_Frame] = []
        while True:
            event = parser.get_event()
            path: DocPath = ()
            if stack:
                top = stack[-1]
                if isinstance(top.value, list):
                    path = (*top.path, len(top.value))
                elif top.has_key:
                    path = (*top.path, top.key)
                elif not isinstance(event, yaml.MappingEndEvent):
                    self._key(top, event)
                    continue
            if isinstance(event, yaml.AliasEvent):
                value = self._alias(event, path)
            elif isinstance(event, yaml.ScalarEvent):
                value = self._scalar(event, path)
                self._record(path, False, event.start_mark)
                self._register(event.anchor, value, path, len(self.entries) - 1)
            elif isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                self._check_collection_tag(event)
                if len(stack) >= MAX_DEPTH:
                    raise self.fail(
                        "yaml-too-deep",
                        f"the document nests deeper than {MAX_DEPTH} levels",
                        event.start_mark,
                    )
                start = len(self.entries)
                self._record(path, False, event.start_mark)
                container: dict[Any, Any] | list[Any] = (
                    {} if isinstance(event, yaml.MappingStartEvent) else []
                )
                if event.anchor is not None:
                    self.open_anchors.add(event.anchor)
                stack.append(_Frame(container, path, event.anchor, start))
                continue
            else:  # MappingEnd / SequenceEnd
                frame = stack.pop()
                if isinstance(frame.value, dict):
                    self._apply_merges(frame)
                value = frame.value
                if frame.anchor is not None:
                    self.open_anchors.discard(frame.anchor)
                self._register(frame.anchor, value, frame.path, frame.start)
                path = frame.path
            if not stack:
                return value
            self._attach(stack[-1], value, path)

    def _attach(self, top: _Frame, value: Any, path: DocPath) -> None:
        if isinstance(top.value, list):
            top.value.append(value)
            return
        top.has_key = False
        if top.key is _MERGE:
            self._merge_value(top, value, path)
        else:
            top.value[top.key] = value

    def _key(self, top: _Frame, event: Any) -> None:
        if isinstance(event, yaml.ScalarEvent):
            if event.value == "<<" and event.tag is None and event.implicit[0]:
                top.key, top.has_key, self.merged = _MERGE, True, True
                return
            key = self._scalar(event)
        elif isinstance(event, yaml.AliasEvent) and isinstance(
            self.anchors.get(event.anchor or "", (None,))[0], str
        ):
            key = self.anchors[event.anchor or ""][0]
        else:
            raise self.fail(
                "invalid-key",
                "a mapping key must be a plain string, not a list or a mapping",
                event.start_mark,
            )
        origin = self.at(event.start_mark)
        if not isinstance(key, str):
            shown = "null" if key is None else str(key).lower() if isinstance(key, bool) else key
            self.diagnostics.append(
                Diagnostic(
                    "invalid-key",
                    f"the key {shown} is not a string",
                    top.path,
                    origin,
                    f"quote it: '{shown}'",
                )
            )
            key = str(shown)
        first = top.first_keys.get(key)
        if first is not None:
            self.diagnostics.append(
                Diagnostic(
                    "duplicate-key",
                    f"duplicate key '{key}' (first defined at line {first.line}, column {first.col})",
                    (*top.path, key),
                    origin,
                    "YAML would silently keep only the last one; remove or rename one of them",
                )
            )
        else:
            top.first_keys[key] = origin
        top.key, top.has_key = key, True
        self.entries.append(((*top.path, key), True, origin))

    def _merge_value(self, top: _Frame, value: Any, path: DocPath) -> None:
        sources = value if isinstance(value, list) else [value]
        start, end = self._subtree(path)
        for index, source in enumerate(sources):
            if not isinstance(source, dict):
                origin = self.value_origins_at(path, index if isinstance(value, list) else None)
                raise _fail(
                    "invalid-merge",
                    "a merge key '<<' takes a mapping or a list of mappings",
                    "write '<<: *anchor' where the anchor names a mapping",
                    origin,
                )
            prefix = (*path, index) if isinstance(value, list) else path
            top.merges.append((source, start, end, prefix))

    def value_origins_at(self, path: DocPath, index: int | None) -> Origin | None:
        wanted = path if index is None else (*path, index)
        for entry_path, is_key, origin in self.entries:
            if entry_path == wanted and not is_key:
                return origin
        return None

    def _subtree(self, path: DocPath) -> tuple[int, int]:
        """Entries of the value just attached at ``path`` (it is the latest subtree)."""
        end = len(self.entries)
        start = end
        while start > 0 and self.entries[start - 1][0][: len(path)] == path:
            start -= 1
        return start, end

    def _apply_merges(self, frame: _Frame) -> None:
        assert isinstance(frame.value, dict)
        for source, start, end, prefix in frame.merges:
            for key, item in source.items():
                if key in frame.value:
                    continue
                frame.value[key] = item
                cut = len(prefix)
                for entry_path, is_key, origin in self.entries[start:end]:
                    if entry_path[:cut] == prefix and entry_path[cut : cut + 1] == (key,):
                        self.entries.append(((*frame.path, *entry_path[cut:]), is_key, origin))

    def _register(self, anchor: str | None, value: Any, path: DocPath, start: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, path, start, len(self.entries))

    def _record(self, path: DocPath, is_key: bool, mark: Any) -> None:
        if len(self.entries) >= MAX_NODES:
            raise self.fail(
                "yaml-node-limit",
                f"the document has more than {MAX_NODES} nodes",
                mark,
                "a stack file is a few kilobytes; check that -f names the right file",
            )
        self.entries.append((path, is_key, self.at(mark)))

    def _alias(self, event: Any, path: DocPath) -> Any:
        name = event.anchor
        if name in self.open_anchors:
            raise self.fail(
                "yaml-alias",
                f"the alias *{name} refers to a node that contains it",
                event.start_mark,
                "an alias cannot point into its own anchor",
                path,
            )
        if name not in self.anchors:
            raise self.fail(
                "yaml-alias",
                f"the alias *{name} has no anchor &{name} before it",
                event.start_mark,
                "define the anchor (&name) before using the alias (*name)",
                path,
            )
        value, anchor_path, start, end = self.anchors[name]
        self.alias_nodes += end - start
        if self.alias_nodes > MAX_ALIAS_NODES or len(self.entries) + end - start > MAX_NODES:
            raise self.fail(
                "yaml-alias-limit",
                f"aliases expand to more than {MAX_ALIAS_NODES} nodes",
                event.start_mark,
                "this looks like an alias bomb; envkit refuses to expand it",
                path,
            )
        cut = len(anchor_path)
        for entry_path, is_key, origin in self.entries[start:end]:
            self.entries.append(((*path, *entry_path[cut:]), is_key, origin))
        return copy_tree(value)

    def _scalar(self, event: Any, path: DocPath = ()) -> Any:
        tag = event.tag
        try:
            if tag is None or tag == "!":
                plain = event.implicit[0] and tag is None
                return resolve_plain(event.value) if plain else event.value
            return resolve_tagged(tag, event.value)
        except TooManyDigits as exc:
            raise self.fail(
                "number-too-large",
                str(exc),
                event.start_mark,
                "no number envkit reads is that large; quote it if it is text",
                path,
            ) from None
        except ValueError as exc:
            raise self.fail("yaml-tag", str(exc), event.start_mark) from None

    def _check_collection_tag(self, event: Any) -> None:
        if event.tag not in (None, "!", STANDARD_TAG + "map", STANDARD_TAG + "seq"):
            raise self.fail("yaml-tag", f"the tag {event.tag} is not supported", event.start_mark)

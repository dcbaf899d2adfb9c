"""What rendering one environment gives (:class:`Rendered`, with its ``render --explain``
:class:`Variable` entries), what it needs of a document, and how a merged-tree path maps
back to where it was written."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from envkit.errors import SENSITIVE, Diagnostic, DocPath, Origin

__all__ = [
    "MISSING",
    "Document",
    "EnvFileValue",
    "Rendered",
    "Variable",
    "get_path",
    "is_secret_name",
    "locate",
]

_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE", re.IGNORECASE)
MISSING: Any = object()  # what get_path gives for a path the tree does not have


def is_secret_name(name: str) -> bool:
    """True for names that look like they hold a secret (``DB_PASSWORD``, ``api_key``)."""
    return _SECRET_NAME.search(name) is not None


class Document(Protocol):
    """What render needs from ``envkit.stackfile.document.Document``."""

    @property
    def display(self) -> str: ...
    @property
    def directory(self) -> Path: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def compose_files(self) -> frozenset[str]: ...
    @property
    def sources(self) -> tuple[Path, ...]: ...
    def origin(self, path: DocPath) -> Origin | None: ...
    def key_origin(self, path: DocPath) -> Origin | None: ...


@dataclass(frozen=True, slots=True)
class EnvFileValue:
    """One variable read from an env file, and where its winning assignment stands."""

    value: str
    origin: Origin  # the file as named in messages; the line of the last assignment


@dataclass(frozen=True, slots=True)
class Variable:
    """One entry of ``render --explain``: where a variable's winning value came from."""

    name: str  # "mysql_port", or "env.NAME" for the env context
    value: Any
    layer: str  # stack vars | environment vars | --var | env file | process environment
    origin: Origin | None
    sensitive: bool

    def shown(self) -> Any:
        return SENSITIVE if self.sensitive else self.value


@dataclass(frozen=True, slots=True)
class Rendered:
    """One environment of a stack, merged and rendered; paths map back to the source."""

    stack: str
    environment: str
    instance: str | None
    tree: dict[str, Any]  # stack, services, volumes
    sensitive_values: frozenset[str]
    variables: tuple[Variable, ...]
    source: str  # the stack file as the user named it
    directory: Path  # its folder: relative paths resolve against it
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    document: Document | None = field(default=None, repr=False, compare=False)
    warnings: tuple[Diagnostic, ...] = ()  # shown, never fatal (an unset Compose variable)
    # The Compose project's variables (process environment over .env or --env-file), which
    # a service's env_file written in a Compose file is interpolated from; None: no Compose.
    compose_variables: Mapping[str, str] | None = field(default=None, repr=False)

    def origin(self, path: DocPath) -> Origin | None:
        """Position of the value at a merged-tree path (the override's, if overridden)."""
        return self._locate(tuple(path), key=False)

    def key_origin(self, path: DocPath) -> Origin | None:
        """Position of the key at a merged-tree path."""
        return self._locate(tuple(path), key=True)

    def is_sensitive(self, value: object) -> bool:
        """True if ``value`` is, or contains, a sensitive value."""
        if not isinstance(value, str) or not value:
            return False
        return value in self.sensitive_values or any(s in value for s in self.sensitive_values)

    def _locate(self, path: DocPath, *, key: bool) -> Origin | None:
        if self.document is None:
            return None
        return locate(self.document, self.environment, path, key=key)


def locate(doc: Document, environment: str, path: DocPath, *, key: bool) -> Origin | None:
    """Where the value (or with ``key``, the key) at a merged-tree ``path`` of
    ``environment`` was written: in the environment's override when it set it."""
    lookup = doc.key_origin if key else doc.origin
    if len(path) > 2 and path[0] == "services":
        base: DocPath = ("environments", environment, "services", path[1])
        node = get_path(doc.data, base)
        rest = path[2:]
        for i, part in enumerate(rest):
            if not isinstance(node, dict):
                # The override replaced this subtree (list or scalar): it is the source.
                return lookup(base + rest) if i else lookup(path)
            if part not in node:
                return lookup(path)
            node = node[part]
        return lookup(base + rest)
    return lookup(path)


def get_path(tree: Any, path: DocPath) -> Any:
    """The node at ``path`` in a parsed tree, or :data:`MISSING`."""
    for part in path:
        in_mapping = isinstance(tree, dict) and isinstance(part, str) and part in tree
        in_list = isinstance(tree, list) and isinstance(part, int) and 0 <= part < len(tree)
        if not (in_mapping or in_list):
            return MISSING
        tree = tree[part]
    return tree

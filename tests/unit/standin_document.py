"""A stand-in for ``envkit.stackfile.Document`` (same attributes) for the render/normalize
tests: YAML with the position of every node, built with PyYAML's composer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from envkit.errors import Origin

PathT = tuple[str | int, ...]


@dataclass(frozen=True)
class StandinDocument:
    path: Path
    display: str
    directory: Path
    data: dict[str, Any]
    values: dict[PathT, Origin] = field(repr=False)
    keys: dict[PathT, Origin] = field(repr=False)

    def origin(self, path: PathT) -> Origin | None:
        path = tuple(path)
        while path not in self.values and path:
            path = path[:-1]
        return self.values.get(path)

    def key_origin(self, path: PathT) -> Origin | None:
        path = tuple(path)
        return self.keys.get(path) or self.origin(path)


def load_text(text: str, directory: Path, display: str = "envkit.yaml") -> StandinDocument:
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    values: dict[PathT, Origin] = {}
    keys: dict[PathT, Origin] = {}

    def at(n: yaml.Node) -> Origin:
        return Origin(display, n.start_mark.line + 1, n.start_mark.column + 1)

    def walk(n: yaml.Node, path: PathT) -> None:
        values[path] = at(n)
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                keys[(*path, k.value)] = at(k)
                walk(v, (*path, k.value))
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, (*path, i))

    if node is not None:
        walk(node, ())
    data = yaml.safe_load(text) or {}
    return StandinDocument(
        directory / display, display, directory, data, values, keys
    )

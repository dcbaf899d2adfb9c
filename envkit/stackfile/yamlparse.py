"""PyYAML at the edge of the tree builder (:mod:`envkit.stackfile.yamltree`): the event
parser, its errors as located StackErrors, and the iterative copy an alias expands to."""

from __future__ import annotations

from typing import Any

import yaml

from envkit.errors import Origin, StackError

__all__ = ["copy_tree", "event_parser", "reader_error", "yaml_error"]


def yaml_error(exc: yaml.MarkedYAMLError, data: bytes, display: str) -> StackError:
    """A PyYAML syntax error as a located StackError, with a hint for the usual causes."""
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "malformed YAML"
    if exc.context and exc.problem:
        problem = f"{exc.problem} ({exc.context})"
    hint = "check the indentation and quoting on this line and the one before"
    if mark is not None:
        lines = data.decode("utf-8").splitlines()
        line = lines[mark.line] if mark.line < len(lines) else ""
        if line[mark.column : mark.column + 1] == "\t":
            hint = "YAML does not allow tabs for indentation; use spaces"
    origin = Origin(display, mark.line + 1, mark.column + 1) if mark is not None else None
    return StackError.single("invalid-yaml", f"invalid YAML: {problem}", origin=origin, hint=hint)


def reader_error(exc: yaml.reader.ReaderError, data: bytes, display: str) -> StackError:
    """A character YAML does not allow, located by its byte position."""
    pos = max(0, min(int(exc.position), len(data)))
    line = data.count(b"\n", 0, pos) + 1
    col = pos - (data.rfind(b"\n", 0, pos) + 1) + 1
    char = exc.character
    code = ord(char) if isinstance(char, str) else int(char)
    return StackError.single(
        "invalid-yaml",
        f"invalid YAML: the character U+{code:04X} is not allowed in YAML",
        origin=Origin(display, line, col),
        hint="remove the control character (a stack file is text)",
    )


def copy_tree(value: Any) -> Any:
    """A deep copy of plain data, iteratively (an alias may copy a deep value)."""
    stack: list[tuple[Any, Any]] = []
    root = _shallow(value, stack)
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            copied = _shallow(item, stack)
            if isinstance(target, dict):
                target[key] = copied
            else:
                target.append(copied)
    return root


def _shallow(value: Any, stack: list[tuple[Any, Any]]) -> Any:
    if isinstance(value, dict | list):
        target: Any = {} if isinstance(value, dict) else []
        stack.append((value, target))
        return target
    return value


def event_parser(data: bytes) -> Any:
    """The YAML event parser: libyaml's when PyYAML has it, else the pure-Python one."""
    try:
        from yaml._yaml import CParser  # libyaml: same events, same marks, much faster
    except ImportError:  # pragma: no cover - depends on the PyYAML build
        from yaml.parser import Parser
        from yaml.reader import Reader
        from yaml.scanner import Scanner

        class _PyParser(Reader, Scanner, Parser):
            def __init__(self, stream: bytes) -> None:
                Reader.__init__(self, stream)
                Scanner.__init__(self)
                Parser.__init__(self)

        return _PyParser(data)
    return CParser(data)

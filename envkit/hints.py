"""Small pieces every message builder shares: naming a value's kind and suggesting the
closest known name. Kept apart so each stage words these the same way."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["did_you_mean", "kind_of"]


def did_you_mean(word: object, choices: Iterable[object], *, prefix: str = "") -> str | None:
    """``did you mean 'test'?`` for the closest of ``choices`` (difflib, cutoff 0.6), or
    None when nothing is close. difflib is imported here: only a mistake needs it."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"did you mean '{prefix}{close[0]}'?" if close else None


def kind_of(value: Any) -> str:
    """A value's kind as a message says it: ``a mapping``, ``a list``, ``a string``,
    ``a number``, ``a boolean``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__}"

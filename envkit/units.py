"""Durations and sizes as a stack file and the command line write them, bounded by what the
engine accepts (``envkit.limits``). Shared by the stack-file side and the reconciler
(``--ttl``), so both read ``1m30s`` and ``512m`` the same way.
"""

from __future__ import annotations

import re
from typing import Any

from envkit.limits import MAX_BYTES, MAX_DURATION_S

__all__ = ["Invalid", "parse_duration", "parse_size"]


class Invalid(ValueError):
    """A value that does not parse. ``message`` names the whole value as ``{value}``; a hint
    that quotes part of the value comes with ``safe_hint``, shown when the value is secret."""

    def __init__(self, message: str, hint: str | None = None, *, safe_hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.safe_hint = hint if safe_hint is None else safe_hint


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0,
                   "m": 60.0, "h": 3600.0}  # fmt: skip
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")


def parse_duration(value: Any) -> float:
    """``"1m30s"`` -> 90.0; numbers are seconds. Finite, >= 0, <= MAX_DURATION_S."""
    hint = "write a duration like 1m30s, 500ms, 2s or 1h (a plain number is seconds)"
    if isinstance(value, bool):
        raise Invalid("{value} is not a duration", hint)
    if isinstance(value, int | float):
        if value < 0:
            raise Invalid("{value} is not a duration", "a duration cannot be negative")
        return _bounded_duration(float(value) if value <= MAX_DURATION_S else float("inf"))
    if not isinstance(value, str):
        raise Invalid("{value} is not a duration", hint)
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return _bounded_duration(float(text))
    total, pos = 0.0, 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise Invalid("{value} is not a duration", hint)
    return _bounded_duration(total)


def _bounded_duration(seconds: float) -> float:
    if not seconds <= MAX_DURATION_S:  # also NaN
        raise Invalid(
            "{value} is too long a duration",
            f"a duration is at most {MAX_DURATION_S}s (about 292 years, the engine's limit)",
        )
    return seconds


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)b?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(value: Any) -> int:
    """``"512m"`` -> 536870912; numbers are bytes. At most MAX_BYTES."""
    hint = "write a size like 512m, 1g, 1024k or 100b (a plain number is bytes)"
    if isinstance(value, bool):
        raise Invalid("{value} is not a size", hint)
    if isinstance(value, int):
        if value < 0:
            raise Invalid("{value} is not a size", "a size cannot be negative")
        return _bounded_size(value)
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise Invalid("{value} is not a size", hint)
    number = float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()]
    return _bounded_size(int(number) if number <= MAX_BYTES else MAX_BYTES + 1)


def _bounded_size(size: int) -> int:
    if size > MAX_BYTES:
        raise Invalid(
            "{value} is too large a size",
            f"a size is at most {MAX_BYTES} bytes (8 EiB, the engine's limit)",
        )
    return size

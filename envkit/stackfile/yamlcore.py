"""Scalars by the YAML 1.2 core schema, as Compose reads them.

``yes``/``no``/``on``/``off`` stay strings (``restart: no`` means ``"no"``), ``8080:80`` is
the string ``"8080:80"`` (never a base-60 integer, as in YAML 1.1) and dates stay strings.
Integers may be written ``0o17`` or ``0x1f``; ``.inf`` and ``.nan`` are floats.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["MAX_INT_DIGITS", "STANDARD_TAG", "TooManyDigits", "resolve_plain", "resolve_tagged"]

MAX_INT_DIGITS = 4300  # Python's own int/str conversion limit (sys.get_int_max_str_digits)


class TooManyDigits(ValueError):
    """An integer written with more digits than any value could need."""


STANDARD_TAG = "tag:yaml.org,2002:"
_NULL = re.compile(r"(?:~|null|Null|NULL|)\Z")
_BOOL = re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")
_INT = re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")
_FLOAT = re.compile(
    r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z"
)


def resolve_plain(value: str) -> Any:
    """The value of an untagged plain scalar: null, bool, int, float or the string."""
    if _NULL.match(value):
        return None
    if _BOOL.match(value):
        return value.lower() == "true"
    if _INT.match(value):
        return _to_int(value)
    if _FLOAT.match(value):
        lowered = value.lower()
        if lowered.endswith(".nan"):
            return float("nan")
        if lowered.endswith(".inf"):
            return float("-inf") if lowered.startswith("-") else float("inf")
        return float(value)
    return value


def _to_int(value: str) -> int:
    digits = len(value.lstrip("+-0ox"))
    too_large = TooManyDigits(f"an integer of {digits} digits is too large")
    if digits > MAX_INT_DIGITS:
        raise too_large
    if value.startswith(("0o", "0x")):
        number = int(value[2:], 8 if value[1] == "o" else 16)
        if number.bit_length() > _MAX_INT_BITS:  # would not convert back to decimal text
            raise too_large
        return number
    return int(value, 10)


_MAX_INT_BITS = 14_000  # about 4,200 decimal digits


def resolve_tagged(tag: str, value: str) -> Any:
    """Scalars with an explicit standard tag (``!!str 80``); ValueError if not allowed."""
    name = tag[len(STANDARD_TAG) :] if tag.startswith(STANDARD_TAG) else None
    if name == "str":
        return value
    if name in ("int", "float", "bool", "null"):
        result = resolve_plain(value)
        wanted = {"int": int, "float": float, "bool": bool, "null": type(None)}[name]
        if name == "float" and isinstance(result, int) and not isinstance(result, bool):
            return float(result)
        if type(result) is wanted:
            return result
        raise ValueError(f"{value!r} is not a valid !!{name}")
    raise ValueError(f"the tag {tag} is not supported")

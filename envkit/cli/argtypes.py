"""Parsers for numeric command-line options, as argparse ``type=`` functions.

Each takes the option's text and returns the value, or raises
``argparse.ArgumentTypeError`` with a message that says what is accepted (argparse turns it
into ``argument --timeout: ...``, and envkit's parser into a usage error, exit 2). They
refuse what would otherwise be accepted and break later: ``--timeout -1`` or ``nan``,
``--tail -5``, and values too large for the clock or the engine (an internal error before).
Importing this module costs nothing at start-up (the duration parser loads on first use).
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from envkit.limits import MAX_DURATION_S

if TYPE_CHECKING:
    from envkit.model import PortSpec

__all__ = [
    "MAX_COUNT",
    "non_negative_duration",
    "non_negative_int",
    "positive_duration",
    "positive_int",
]

MAX_COUNT = 2**31 - 1  # --tail, --index: what the engine's int fields take

_DURATION_HELP = "a number of seconds or a duration like 90s, 5m, 1h30m"


def _duration(text: str) -> float:
    from envkit.units import Invalid, parse_duration  # only when the option is given

    shown = text if len(text) <= 40 else text[:37] + "..."
    try:
        seconds = parse_duration(text)
    except Invalid as exc:
        if text.strip().startswith("-"):
            raise argparse.ArgumentTypeError(
                f"{shown!r} is negative; write {_DURATION_HELP}"
            ) from exc
        if "too long" in exc.message:
            raise argparse.ArgumentTypeError(
                f"{shown!r} is too long; at most {MAX_DURATION_S} seconds"
            ) from exc
        raise argparse.ArgumentTypeError(f"{shown!r} is not {_DURATION_HELP}") from exc
    if not math.isfinite(seconds):  # pragma: no cover - parse_duration refuses it
        raise argparse.ArgumentTypeError(f"{shown!r} is not {_DURATION_HELP}")
    return seconds


def positive_duration(text: str) -> float:
    """Seconds > 0 (``"30"``, ``"1.5"``, ``"90s"``, ``"2m"``); at most MAX_DURATION_S."""
    seconds = _duration(text)
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be longer than zero")
    return seconds


def non_negative_duration(text: str) -> float:
    """Seconds >= 0 (0: do not wait); at most MAX_DURATION_S."""
    return _duration(text)


def _count(text: str, minimum: int) -> int:
    shown = text if len(text) <= 40 else text[:37] + "..."
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"{shown!r} is not a whole number of {minimum} or more")
    if len(digits.lstrip("0")) > 10 or int(digits) > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"{shown!r} is too large; at most {MAX_COUNT}")
    value = int(digits)
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{shown!r} must be {minimum} or more")
    return value


def non_negative_int(text: str) -> int:
    """A whole number 0..MAX_COUNT, written in ASCII digits (``--tail``)."""
    return _count(text, 0)


def positive_int(text: str) -> int:
    """A whole number 1..MAX_COUNT (``--index``)."""
    return _count(text, 1)


def moment(text: str) -> float:
    """``--since``/``--until``: a duration before now (``10m``, ``90s``, ``1h30m``) or an
    RFC 3339 time (``2026-01-31T12:00:00Z``), as Unix seconds."""
    import time

    from envkit.reconcile.expiry import parse_time

    at = parse_time(text) if any(c in text for c in "-:T") else None
    if at is not None:
        return at.timestamp()
    try:
        return time.time() - _duration(text)
    except argparse.ArgumentTypeError:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise argparse.ArgumentTypeError(
            f"{shown!r} is neither a duration (10m, 90s) nor an RFC 3339 time "
            "(2026-01-31T12:00:00Z)"
        ) from None


def published_port(text: str) -> tuple[PortSpec, ...]:
    """``run -p``: Compose's short port syntax (``8080:80``, ``127.0.0.1::80/udp``)."""
    from envkit.stackfile.syntax import parse_port
    from envkit.units import Invalid

    try:
        return parse_port(text)
    except Invalid as exc:
        shown = text if len(text) <= 40 else text[:37] + "..."
        message = exc.message.replace("{value}", repr(shown))
        raise argparse.ArgumentTypeError(message + (f" ({exc.hint})" if exc.hint else "")) from None

"""Bounds on what one template may cost: time, steps, and the size of what it builds.

A stack file is input, and a template is a small program: ``{% for i in range(100000) %}``
nested twice runs for ever, and ``'x' * 10**9`` or ``range(9999)|join('x' * 999999)``
asks for gigabytes. :mod:`envkit.stackfile.templating` renders every template under a
:class:`Budget` (one per environment rendered) and refuses, with
``error[template-too-expensive]`` located at the value, a template that:

- runs more than :data:`MAX_STEPS` loop iterations and calls in all, or for longer than
  :data:`MAX_SECONDS` of wall-clock time (checked at every loop iteration and call; every
  ``{% for %}`` is rewritten to iterate through :func:`loop`, every call goes through the
  sandbox's ``call``);
- calls ``range()`` for more than :data:`MAX_RANGE` items;
- builds a string, list or number larger than :data:`MAX_SIZE` characters or items (checked
  *before* the operation: ``*``, ``+``, ``%``, ``~``, ``**``, ``str.format``, and the
  amplifying filters and string methods ``join``, ``replace``, ``center``, ``indent``,
  ``wordwrap``, ``format``, ``slice``, ``batch``, ``tojson``, ``ljust``, ``rjust``,
  ``zfill``, ``expandtabs``, ``translate``), and every list, tuple or dict a literal or a
  call makes (``[a, a]`` in a loop is a tree of 2**n shared leaves, whose ``str()`` never
  returns); ``wordwrap`` of a long word at a small width (quadratic in textwrap);
- outputs more than :data:`MAX_SIZE` characters for one value, or for one block (every
  buffer Jinja joins, ``{% set %}`` blocks and macro outputs included: :func:`checked_join`).

The sandbox is Jinja's immutable one, so ``list.extend`` cannot double a list in a loop, and
``lipsum`` (a loop inside Jinja) is removed.
"""

from __future__ import annotations

import contextvars
import math
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "MAX_RANGE",
    "MAX_SECONDS",
    "MAX_SIZE",
    "MAX_STEPS",
    "Budget",
    "TooExpensive",
    "check_binop",
    "check_call",
    "checked_filters",
    "checked_format",
    "checked_join",
    "concat",
    "container",
    "loop",
    "safe_range",
    "size_of",
    "step",
]

MAX_RANGE = 10_000  # items per range()
MAX_STEPS = 1_000_000  # loop iterations and calls, per rendered environment
MAX_SECONDS = 5.0  # wall-clock, per rendered environment
MAX_SIZE = 1_000_000  # characters of a string / items of a list / digits of a number
_MAX_BITS = 10_000  # integers of about 3,000 digits (str() refuses 4,300 anyway)
_MAX_POWER = 1000  # exponent limit for ``**``
_MAX_INDENT = 100  # tojson(indent=...)
_MAX_WRAP_WORK = 10**10  # textwrap cuts a long word in len**2/width character copies


class TooExpensive(Exception):
    """A template went over its budget (what went over is the message)."""


@dataclass(slots=True)
class Budget:
    """What the templates of one render may still spend. Time counts only while a template
    runs (between :meth:`start` and :meth:`stop`), not the rest of the render."""

    steps: int = field(default_factory=lambda: MAX_STEPS)
    seconds: float = field(default_factory=lambda: MAX_SECONDS)
    deadline: float = math.inf

    @property
    def exhausted(self) -> bool:
        return self.steps < 0 or self.seconds <= 0

    def start(self) -> None:
        self.deadline = time.monotonic() + self.seconds
        self.spend()

    def stop(self) -> None:
        self.seconds = max(0.0, self.deadline - time.monotonic())
        self.deadline = math.inf

    def spend(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise TooExpensive(f"it runs more than {MAX_STEPS:,} loop iterations and calls")
        if time.monotonic() > self.deadline:
            raise TooExpensive(f"rendering took longer than {MAX_SECONDS:g}s")


ACTIVE: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
    "envkit_budget", default=None
)


def step() -> None:
    budget = ACTIVE.get()
    if budget is not None:
        budget.spend()


def loop(iterable: Iterable[Any]) -> Iterator[Any]:
    """What every ``{% for %}`` iterates through: one step per item."""
    for item in iterable:
        step()
        yield item


def size_of(value: Any) -> int:
    """Characters of the strings plus one per container and item, through nested containers
    (a shared one each time it appears), digits of an int; stops counting past MAX_SIZE, so
    it costs at most about MAX_SIZE steps whatever the value."""
    total = 0
    pending = [value]
    while pending and total <= MAX_SIZE:
        item = pending.pop()
        if isinstance(item, str | bytes):
            total += len(item)
        elif isinstance(item, list | tuple):
            total += 1 + len(item)
            pending.extend(item[: MAX_SIZE + 1])
        elif isinstance(item, dict):
            total += 1 + len(item)
            pending.extend(list(item.values())[: MAX_SIZE + 1])
        elif isinstance(item, int) and not isinstance(item, bool):
            total += max(1, item.bit_length() * 3 // 10)
        else:
            total += 1
    return total


def _limit(size: int, what: str = "the result") -> None:
    if size > MAX_SIZE:
        raise TooExpensive(f"{what} would be longer than {MAX_SIZE:,} characters or items")


def container(value: Any) -> Any:
    """A list, tuple or dict literal (or what a call returned), checked for its size
    counted through nested containers, shared ones each time they appear."""
    if isinstance(value, list | tuple | dict):
        _limit(size_of(value))
    return value


def concat(*parts: Any) -> str:
    """``a ~ b ~ c``, checked."""
    for part in parts:
        if not isinstance(part, str):
            _limit(size_of(part))  # str() of a 2**30-leaf tree would never return
    texts = [str(p) for p in parts]
    _limit(sum(len(t) for t in texts))
    return "".join(texts)


def safe_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise TooExpensive(f"range() of {len(rng):,} items; at most {MAX_RANGE:,}")
    return rng


_PERCENT = re.compile(r"%[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``left <operator> right`` before Python computes it, if too large."""
    if operator == "**":
        if isinstance(right, int | float) and abs(right) > _MAX_POWER:
            raise TooExpensive(f"exponent {right} is too large")
        big = isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0
        if big and left.bit_length() * right > _MAX_BITS:
            raise TooExpensive(f"{left.bit_length()}-bit number ** {right} is too large")
    elif operator == "*":
        for seq, n in ((left, right), (right, left)):
            if (
                isinstance(n, int)
                and not isinstance(n, bool)
                and isinstance(seq, str | list | tuple)
            ):
                _limit(size_of(seq) * max(n, 0))
        ints = isinstance(left, int) and isinstance(right, int)
        if ints and left.bit_length() + right.bit_length() > _MAX_BITS:
            raise TooExpensive("the product would be too large a number")
    elif operator == "+":
        if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            _limit(size_of(left) + size_of(right))
    elif operator == "%" and isinstance(left, str):
        args = right if isinstance(right, tuple) else (right,)
        for match in _PERCENT.finditer(left):
            for width in match.groups():
                if width is not None and width != "*" and int(width) > MAX_SIZE:
                    _limit(int(width), "a formatted field")
        if "*" in left:
            for arg in args:
                if isinstance(arg, int) and abs(arg) > MAX_SIZE:
                    _limit(abs(arg), "a formatted field")
        _limit(len(left) + sum(size_of(str(a)) for a in args if isinstance(a, str | int)))


def checked_format(text: str, *args: Any, **kwargs: Any) -> None:
    """Refuse a ``str.format`` template whose field widths exceed the size limit."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # Python reports the malformed template itself
    for _, _, spec, _ in fields:
        if spec and "{" in spec:
            raise TooExpensive("a nested format field (a width from a value) is not allowed")
        for number in re.findall(r"\d+", spec or ""):
            _limit(int(number), "a formatted field")


_AMPLIFIERS = {"center", "ljust", "rjust", "zfill"}


def check_call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a call to a string method that would build something too large."""
    method = getattr(func, "__wrapped__", func)  # the sandbox wraps str.format
    owner = getattr(method, "__self__", None)
    name = getattr(method, "__name__", "")
    if not isinstance(owner, str):
        return
    if name in _AMPLIFIERS and args and isinstance(args[0], int):
        _limit(args[0])
    elif name == "expandtabs":
        tab = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tab, int):
            _limit(len(owner) * max(tab, 1))
    elif name == "join" and args:
        items = list(args[0]) if not isinstance(args[0], list | tuple) else args[0]
        _limit(len(owner) * len(items) + size_of(items))
    elif name == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = owner.count(old) if old else len(owner) + 1
        _limit(len(owner) + count * max(len(new) - len(old), 0))
    elif name in ("format", "format_map"):
        checked_format(owner)
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((len(v) for v in args[0].values() if isinstance(v, str)), default=1)
        _limit(len(owner) * max(longest, 1))


def checked_filters(filters: dict[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Replacements for the amplifying filters: the same filter after a size check."""
    join, replace = filters["join"], filters["replace"]
    center, indent = filters["center"], filters["indent"]
    wordwrap, format_ = filters["wordwrap"], filters["format"]
    slice_, batch, tojson = filters["slice"], filters["batch"], filters["tojson"]

    def do_join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> Any:
        items = list(value)
        _limit(len(str(d)) * len(items) + size_of(items))
        return join(eval_ctx, items, d, attribute)

    def do_replace(eval_ctx: Any, s: Any, old: Any, new: Any, count: int | None = None) -> Any:
        text, old_s, new_s = str(s), str(old), str(new)
        n = text.count(old_s) if old_s else len(text) + 1
        if count is not None:
            n = min(n, max(count, 0))
        _limit(len(text) + n * max(len(new_s) - len(old_s), 0))
        return replace(eval_ctx, s, old, new, count)

    def do_center(value: Any, width: int = 80) -> Any:
        _limit(width)
        return center(value, width)

    def do_indent(s: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
        pad = width if isinstance(width, str) else " " * min(int(width), MAX_SIZE + 1)
        _limit(len(str(s)) + (str(s).count("\n") + 1) * len(pad))
        return indent(s, width, first, blank)

    def do_wordwrap(env: Any, s: Any, width: int = 79, *args: Any, **kwargs: Any) -> Any:
        wrap = kwargs.get("wrapstring") or (args[1] if len(args) > 1 else None) or "\n"
        text = str(s)
        _limit(len(text) * (1 + len(str(wrap))))
        if isinstance(width, int) and len(text) ** 2 // max(width, 1) > _MAX_WRAP_WORK:
            raise TooExpensive("wordwrap of this text at this width is quadratic work")
        return wordwrap(env, s, width, *args, **kwargs)

    def do_format(value: Any, *args: Any, **kwargs: Any) -> Any:
        check_binop("%", str(value), tuple(args) or kwargs)
        return format_(value, *args, **kwargs)

    def do_slice(eval_ctx: Any, value: Any, slices: int, fill_with: Any = None) -> Any:
        if isinstance(slices, int) and slices > MAX_RANGE:  # one Python step per slice
            raise TooExpensive(f"slice({slices}) makes more than {MAX_RANGE:,} slices")
        return slice_(eval_ctx, value, slices, fill_with)

    def do_batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
        if fill_with is not None and isinstance(linecount, int):  # pads to linecount items
            _limit(linecount, "a padded batch")
        return batch(value, linecount, fill_with)

    def do_tojson(eval_ctx: Any, value: Any, indent: Any = None) -> Any:
        if isinstance(indent, int) and indent > _MAX_INDENT:  # repeated on every line
            raise TooExpensive(f"tojson indent {indent} is over {_MAX_INDENT}")
        if isinstance(indent, str):
            _limit(len(indent) * size_of(value), "the indented JSON")
        return tojson(eval_ctx, value, indent)

    replaced = (
        (do_join, join), (do_replace, replace), (do_wordwrap, wordwrap),
        (do_slice, slice_), (do_tojson, tojson),
    )  # fmt: skip
    for new, old in replaced:
        for attr in ("jinja_pass_arg",):  # pass_eval_context / pass_environment markers
            if hasattr(old, attr):
                setattr(new, attr, getattr(old, attr))
    return {
        "join": do_join,
        "replace": do_replace,
        "center": do_center,
        "indent": do_indent,
        "wordwrap": do_wordwrap,
        "format": do_format,
        "slice": do_slice,
        "batch": do_batch,
        "tojson": do_tojson,
    }


def checked_join(parts: Iterable[str]) -> str:
    """The environment's ``concat``: joins every buffer (set blocks, macros, call and
    filter blocks), so a ``{% set %}`` block that doubles itself in a loop is caught."""
    out: list[str] = []
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_SIZE:
            raise TooExpensive(f"a block's output would be longer than {MAX_SIZE:,} characters")
        out.append(part)
    return "".join(out)

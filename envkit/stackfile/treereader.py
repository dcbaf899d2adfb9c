"""Typed reads from a rendered tree, collecting located, redacted Diagnostics.

A :class:`TreeReader` never raises on bad input: each problem becomes a Diagnostic at the
value's source position (``rendered.origin(path)``) and the read returns a neutral value
(``None``, ``{}``, ``[]``), so one pass reports every problem. A value that is sensitive
is never quoted in a message: ``{value}`` in a message shows it as ``(sensitive)``, and
messages and hints are redacted of every secret the reader knows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from envkit.errors import SENSITIVE, Diagnostic, DocPath, redact
from envkit.hints import kind_of
from envkit.stackfile.rendered import Rendered
from envkit.stackfile.syntax import Invalid

__all__ = ["TreeReader"]

T = TypeVar("T")


class TreeReader:
    """Reads values of one rendered environment; ``diagnostics`` holds what was wrong."""

    def __init__(self, rendered: Rendered) -> None:
        self.rendered = rendered
        self.diagnostics: list[Diagnostic] = []
        self.extra_sensitive: set[str] = set()

    def shown(self, value: Any) -> str:
        """``value`` quoted for a message: ``(sensitive)`` when secret, secrets inside
        redacted, then cut to 60 characters (a 5000-digit number too)."""
        if isinstance(value, int) and value.bit_length() > 200:
            return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
        text = str(value)
        if self.rendered.is_sensitive(text) or text in self.extra_sensitive:
            return SENSITIVE
        text = redact(text, self.rendered.sensitive_values | self.extra_sensitive)
        return f"'{text if len(text) <= 60 else text[:57] + '...'}'"

    def fail(
        self,
        code: str,
        message: str,
        path: DocPath,
        *,
        value: Any = None,
        hint: str | None = None,
        at_key: bool = False,
    ) -> None:
        message = message.replace("{value}", self.shown(value))
        secrets = self.rendered.sensitive_values | self.extra_sensitive
        hint = redact(hint, secrets) if hint else None
        origin = self.rendered.key_origin(path) if at_key else self.rendered.origin(path)
        self.diagnostics.append(Diagnostic(code, redact(message, secrets), path, origin, hint))

    def parse(self, code: str, fn: Callable[[Any], T], value: Any, path: DocPath) -> T | None:
        try:
            return fn(value)
        except Invalid as exc:
            secret = self.shown(value) == SENSITIVE
            self.fail(
                code, exc.message, path, value=value, hint=exc.safe_hint if secret else exc.hint
            )
            return None

    def wrong_type(self, expected: str, value: Any, path: DocPath) -> None:
        got = kind_of(value)
        self.fail("invalid-type", f"expected {expected}, got {got}", path)

    def mapping(self, value: Any, path: DocPath) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.wrong_type("a mapping", value, path)
        return {}

    def items(self, value: Any, path: DocPath) -> list[Any]:
        """A list, or a single string taken as a one-item list."""
        if value is None:
            return []
        if isinstance(value, list):
            return value
        if isinstance(value, str):
            return [value]
        self.wrong_type("a list", value, path)
        return []

    def string(self, value: Any, path: DocPath) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        self.wrong_type("a string", value, path)
        return None

    def boolean(self, value: Any, path: DocPath) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.fail(
            "invalid-type",
            "{value} is not a boolean",
            path,
            value=value,
            hint="write true or false",
        )
        return None

    def number(
        self,
        value: Any,
        path: DocPath,
        *,
        integer: bool,
        minimum: float = 0,
        maximum: float | None = None,
    ) -> Any:
        """A finite number (a whole one if ``integer``) in ``[minimum, maximum]``, or None
        after a located ``invalid-number`` problem. Never raises on a huge value."""
        if value is None:
            return None
        kind = "a whole number" if integer else "a number"
        if maximum is not None:
            bounds = f" from {minimum:g} to {maximum:g}"
        else:
            bounds = f" of {minimum:g} or more"
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError
            number = int(value) if integer else float(value)
            if integer and isinstance(value, float) and value != number:
                raise ValueError
        except (ValueError, OverflowError):  # a 5000-digit string; int(inf)
            self.fail("invalid-number", f"{{value}} is not {kind}", path, value=value,
                      hint=f"write {kind}{bounds}")  # fmt: skip
            return None
        if not (minimum <= number and (maximum is None or number <= maximum)):  # NaN too
            self.fail("invalid-number", "{value} is out of range", path, value=value,
                      hint=f"write {kind}{bounds}")  # fmt: skip
            return None
        return number

    def scalar_text(self, value: Any) -> str:
        """YAML spelling of a scalar, as Compose passes it to the container."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def pairs(self, value: Any, path: DocPath, *, sep: str, what: str) -> dict[str, str | None]:
        """A ``{k: v}`` mapping or a ``["k=v"]`` list; None marks a bare name / null value."""
        out: dict[str, str | None] = {}
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict | list):
                    self.wrong_type("a string, number or boolean", item, (*path, key))
                else:
                    out[str(key)] = None if item is None else self.scalar_text(item)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, str) or not item or item.startswith(sep):
                    self.fail(
                        f"invalid-{what}",
                        "{value} is not KEY" + sep + "VALUE",
                        (*path, i),
                        value=item,
                    )
                    continue
                key, has_value, text = item.partition(sep)
                out[key] = text if has_value else None
        elif value is not None:
            self.wrong_type("a mapping or a list", value, path)
        return out

    def optional(self, code: str, fn: Callable[[Any], T], value: Any, path: DocPath) -> T | None:
        return None if value is None else self.parse(code, fn, value, path)

    def strings(self, value: Any, path: DocPath, *, sort: bool = False) -> tuple[str, ...]:
        out = [self.string(v, (*path, i)) for i, v in enumerate(self.items(value, path))]
        texts = [s for s in out if s is not None]
        return tuple(sorted(texts) if sort else texts)

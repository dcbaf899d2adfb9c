"""Interpolate a parsed Compose document: every string value, never a key.

Compose interpolates after the YAML is parsed, so a variable can never add keys or change
the structure, and "Interpolation applies only to YAML values, not to keys" (Compose
Specification, Interpolation): a mapping key such as a label name stays as written, while
the list form ``labels: ["$NAME=value"]`` is a value and is interpolated. compose-go
interpolates the whole document (``name:``, ``x-`` extensions, ``include:``); so does this
walk. (docker-compose 1.29.2 interpolated only services, volumes, networks, secrets and
configs.)

After interpolation compose-go turns the strings at a few typed paths into numbers or
booleans (its ``interpolateTypeCastMapping``, reproduced as :data:`COMPOSE_CASTS`), so
``privileged: ${PRIV}`` with ``PRIV=true`` is the boolean ``true``. Pass ``casts=()`` to
keep every value a string.

Nothing raises: each problem becomes a located :class:`~envkit.errors.Diagnostic` in
:attr:`InterpolatedTree.problems`, so ``validate`` reports them all. Every variable that
reached a node is kept in :attr:`InterpolatedTree.uses`, so its value can be masked
wherever it landed, and :attr:`InterpolatedTree.unset` names the bare unset variables
Compose warns about ("The X variable is not set. Defaulting to a blank string.").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from envkit.errors import Diagnostic, DocPath, Origin, PathPart
from envkit.stackfile.interpolation import InterpolationError, VariableUse, interpolate_recording

__all__ = [
    "COMPOSE_CASTS",
    "Cast",
    "InterpolatedTree",
    "NodeUse",
    "OriginOf",
    "interpolate_tree",
]

OriginOf = Callable[[DocPath], "Origin | None"]

_INT = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_FLOAT_WORDS = {"inf": math.inf, "infinity": math.inf, "nan": math.nan}
_TRUE = ("true", "y", "yes", "on")
_FALSE = ("false", "n", "no", "off")


def _to_int(text: str) -> int:
    if not _INT.match(text):
        raise ValueError(f"{text!r} is not an integer")
    return int(text)


def _to_float(text: str) -> float:
    if _FLOAT.match(text):
        return float(text)
    sign, word = (-1.0, text[1:]) if text[:1] == "-" else (1.0, text.lstrip("+"))
    if word.lower() in _FLOAT_WORDS:
        return sign * _FLOAT_WORDS[word.lower()]
    raise ValueError(f"{text!r} is not a number")


def _to_bool(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean")


@dataclass(frozen=True, slots=True)
class Cast:
    """Turn the string at every path matching ``pattern`` into a typed value.

    In a pattern ``*`` matches any key or list item, ``[]`` any list item.
    """

    pattern: tuple[str, ...]
    convert: Callable[[str], Any]
    expected: str  # for messages: "a whole number"


def _service(*parts: str) -> tuple[str, ...]:
    return ("services", "*", *parts)


_SERVICE_CASTS = {
    _to_int: [
        ("cpu_count",),
        ("cpu_period",),
        ("cpu_quota",),
        ("cpu_rt_period",),
        ("cpu_rt_runtime",),
        ("cpu_shares",),
        ("deploy", "replicas"),
        ("deploy", "update_config", "parallelism"),
        ("deploy", "rollback_config", "parallelism"),
        ("deploy", "restart_policy", "max_attempts"),
        ("deploy", "placement", "max_replicas_per_node"),
        ("healthcheck", "retries"),
        ("oom_score_adj",),
        ("pids_limit",),
        ("ports", "[]", "target"),
        ("scale",),
        ("ulimits", "*"),
        ("ulimits", "*", "hard"),
        ("ulimits", "*", "soft"),
    ],
    _to_float: [
        ("cpu_percent",),
        ("cpus",),
        ("deploy", "update_config", "max_failure_ratio"),
        ("deploy", "rollback_config", "max_failure_ratio"),
    ],
    _to_bool: [
        ("init",),
        ("depends_on", "*", "required"),
        ("depends_on", "*", "restart"),
        ("healthcheck", "disable"),
        ("oom_kill_disable",),
        ("privileged",),
        ("read_only",),
        ("stdin_open",),
        ("tty",),
        ("volumes", "[]", "read_only"),
        ("volumes", "[]", "volume", "nocopy"),
    ],
}

_EXPECTED = {
    _to_int: "a whole number",
    _to_float: "a number",
    _to_bool: "a boolean (true or false)",
}

COMPOSE_CASTS: tuple[Cast, ...] = (
    *(
        Cast(_service(*parts), fn, _EXPECTED[fn])
        for fn, paths in _SERVICE_CASTS.items()
        for parts in paths
    ),
    *(
        Cast(("networks", "*", key), _to_bool, _EXPECTED[_to_bool])
        for key in ("external", "internal", "attachable", "enable_ipv4", "enable_ipv6")
    ),
    *(
        Cast((top, "*", "external"), _to_bool, _EXPECTED[_to_bool])
        for top in ("volumes", "secrets", "configs")
    ),
)


@dataclass(frozen=True, slots=True)
class NodeUse:
    """A variable looked up while interpolating the string at ``path``."""

    path: DocPath
    origin: Origin | None
    name: str
    value: str | None  # None: unset
    bare: bool  # $NAME / ${NAME}, as opposed to ${NAME:-...} and the like


@dataclass(frozen=True, slots=True)
class InterpolatedTree:
    """The interpolated document, what it used, and what went wrong."""

    root: Any
    uses: tuple[NodeUse, ...]
    problems: tuple[Diagnostic, ...]

    @property
    def unset(self) -> tuple[str, ...]:
        """Bare variables that were not set (each once, in order of first use)."""
        return tuple(dict.fromkeys(u.name for u in self.uses if u.bare and u.value is None))

    def values_of(self, names: Iterable[str]) -> frozenset[str]:
        """The non-empty values that the variables ``names`` put into the document."""
        wanted = set(names)
        return frozenset(u.value for u in self.uses if u.name in wanted and u.value)


def interpolate_tree(
    root: Any,
    variables: Mapping[str, str],
    origin_of: OriginOf,
    *,
    casts: Iterable[Cast] = COMPOSE_CASTS,
    at: DocPath = (),
    only: Callable[[DocPath], bool] | None = None,
) -> InterpolatedTree:
    """Interpolate every string value under ``root`` (found at ``at``) from ``variables``.

    ``origin_of(path)`` gives a value's position, for the problems and the uses (for a
    :class:`envkit.stackfile.yamltree.YamlTree`, ``tree.value_origins.get``). The input is not
    changed; dicts and lists are copied. A string that fails keeps its text. ``only``:
    interpolate just the strings at the paths it accepts (the ones written in a Compose
    file, when an envkit stack file holds others); the rest stay as they are.
    """
    walk = _Walk(variables, origin_of, tuple(casts), only)
    result = walk.node(root, at)
    return InterpolatedTree(result, tuple(walk.uses), tuple(walk.problems))


class _Walk:
    def __init__(
        self,
        variables: Mapping[str, str],
        origin_of: OriginOf,
        casts: tuple[Cast, ...],
        only: Callable[[DocPath], bool] | None = None,
    ) -> None:
        self.only = only
        self.variables = variables
        self.origin_of = origin_of
        self.casts = casts
        self.uses: list[NodeUse] = []
        self.problems: list[Diagnostic] = []

    def node(self, value: Any, path: DocPath) -> Any:
        # Iterative over containers would only matter past the YAML reader's depth bound
        # (envkit.stackfile.yamltree.MAX_DEPTH), which keeps this recursion shallow.
        if isinstance(value, dict):
            return {key: self.node(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.node(item, (*path, i)) for i, item in enumerate(value)]
        if isinstance(value, str):
            return (
                value if self.only is not None and not self.only(path) else self.string(value, path)
            )
        return value

    def string(self, text: str, path: DocPath) -> Any:
        uses: tuple[VariableUse, ...] = ()
        if "$" not in text:
            result = text
        else:
            try:
                result, uses = interpolate_recording(text, self.variables)
            except InterpolationError as exc:
                self.problems.append(exc.diagnostic(path, self.origin_of(path)))
                return text
            if uses:
                origin = self.origin_of(path)
                self.uses.extend(NodeUse(path, origin, u.name, u.value, u.bare) for u in uses)
        cast = self._cast_for(path)
        if cast is None:
            return result
        try:
            return cast.convert(result)
        except ValueError as exc:
            # a value that variables made may hold a secret: then name the variables only
            names = ", ".join(dict.fromkeys(u.name for u in uses if u.value))
            message = f"{exc} (after interpolation)"
            if names:
                message = f"the value that {names} gave is not {cast.expected}"
            self.problems.append(
                Diagnostic(
                    "invalid-interpolated-value",
                    message,
                    path,
                    self.origin_of(path),
                    f"Compose reads this field as {cast.expected}",
                )
            )
            return result

    def _cast_for(self, path: DocPath) -> Cast | None:
        for cast in self.casts:
            if len(cast.pattern) == len(path) and all(
                _part_matches(want, got) for want, got in zip(cast.pattern, path, strict=True)
            ):
                return cast
        return None


def _part_matches(want: str, got: PathPart) -> bool:
    if want == "*":
        return True
    if want == "[]":
        return isinstance(got, int)
    return want == got

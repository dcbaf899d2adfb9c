"""Compose variable interpolation of one string: ``$VAR``, ``${VAR:-default}``, ``$$``.

The rules are the Compose Specification's ("Interpolation", ``12-interpolation.md``) as
its reference implementation, compose-go's ``template/template.go``, carries them out:

- ``$NAME`` and ``${NAME}`` with ``NAME`` = ``[_a-zA-Z][_a-zA-Z0-9]*`` (and, as Go's case
  folding has it, U+017F and U+212A); an unset variable gives ``""`` (Compose warns:
  :attr:`envkit.stackfile.interpolation_tree.InterpolatedTree.unset` lists those names);
- ``${NAME:-d}`` ``d`` when unset or empty; ``${NAME-d}`` ``d`` when unset;
- ``${NAME:+a}`` ``a`` when set and not empty, else the (empty) value; ``${NAME+a}`` ``a``
  when set, else ``""``;
- ``${NAME:?msg}`` an error (``msg``) when unset or empty; ``${NAME?msg}`` when unset;
- the text after the operator is itself interpolated, lazily (only when it is used), so
  ``${A:-${B:-x}}`` nests; it runs to the matching ``}`` (braces inside it are counted,
  so ``${A:-{"json":1}}`` gives ``{"json":1}``);
- ``$$`` is a literal ``$``;
- ``${`` not followed by a name and then ``}`` or an operator (``${``, ``${}``, ``${ A}``,
  ``${A``, ``${A:x}``, ``${A!}``) is an invalid interpolation;
- any other ``$`` (``a $ b``, ``$1``, ``$ {``, ``price$``) is kept as it is, as the
  specification says ("In other circumstances, it will be preserved").

Where docker-compose 1.29.2 (the Python one, Python's ``string.Template``) differs, the
specification and compose-go are followed:

- 1.29.2 refuses every other ``$`` (``$ {``, ``$1``, ``a $ b``: "Invalid interpolation
  format"); here they stay literal;
- 1.29.2 has no ``:+``/``+`` (it refuses ``${A:+x}``) and no nesting: a default ends at
  the first ``}``, so ``${A:-${B}}`` gives ``${B}`` for an unset A and B;
- 1.29.2 says "Missing mandatory value ...: msg"; the message here is compose-go's
  ``required variable A is missing a value: msg``.

Deliberate limit: nesting deeper than :data:`MAX_NESTING` is an error
(``interpolation-too-deep``) rather than an unbounded recursion.

This module is pure: no I/O, no environment access. The caller gives the variables as a
mapping and adds the location (``file:line:col`` and document path) to errors through
:meth:`InterpolationError.diagnostic`. :mod:`envkit.stackfile.interpolation_tree` walks a parsed
document with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from envkit.errors import Diagnostic, DocPath, EnvkitError, Origin

__all__ = [
    "MAX_NESTING",
    "InterpolationError",
    "Problem",
    "VariableUse",
    "interpolate",
    "interpolate_recording",
]

MAX_NESTING = 32

# compose-go's (?i)[_a-z]: Go's case folding adds U+017F (long s) and U+212A (Kelvin sign)
_NAME_START = frozenset("_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\u017f\u212a")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
_OPERATORS = (":-", ":+", ":?", "-", "+", "?")

_HINTS = {
    "invalid-interpolation": (
        "write $$ for a literal $; a variable reads $NAME, ${NAME} or ${NAME:-default} "
        "(also -, :+, +, :? and ?)"
    ),
    "interpolation-too-deep": f"nest at most {MAX_NESTING} ${{...}} inside one another",
}


class Problem(Enum):
    """What went wrong; the value is the error code."""

    INVALID = "invalid-interpolation"
    MISSING_REQUIRED = "missing-required-variable"
    TOO_DEEP = "interpolation-too-deep"


class InterpolationError(EnvkitError):
    """A string could not be interpolated.

    ``text`` is the whole string, ``offset`` the index of the offending ``$`` in it,
    ``variable`` the variable a ``${NAME:?msg}`` asked for (else ``None``) and ``reason``
    that ``msg`` after interpolation (``""`` when none was given).
    """

    exit_code = 2

    def __init__(
        self,
        problem: Problem,
        text: str,
        offset: int,
        *,
        variable: str | None = None,
        reason: str = "",
    ) -> None:
        self.problem = problem
        self.text = text
        self.offset = offset
        self.variable = variable
        self.reason = reason
        if problem is Problem.MISSING_REQUIRED:
            message = f"required variable {variable} is missing a value"
            if reason:
                message = f"{message}: {reason}"
            hint = f"set {variable} in the environment or in the .env file"
        elif problem is Problem.INVALID:
            message = f"invalid interpolation format: '{_excerpt(text, offset)}'"
            hint = _HINTS[problem.value]
        else:
            message = f"interpolation nested too deeply: '{_excerpt(text, offset)}'"
            hint = _HINTS[problem.value]
        super().__init__(message, hint=hint, code=problem.value)

    def diagnostic(self, path: DocPath, origin: Origin | None) -> Diagnostic:
        """This error located at ``origin`` (the string's node) and document ``path``."""
        return Diagnostic(self.problem.value, self.message, path, origin, self.hint)


def _excerpt(text: str, offset: int) -> str:
    """The offending part: from the ``$`` to the first ``}`` after it, or the line's end."""
    end = len(text)
    for stop in ("}", "\n"):
        found = text.find(stop, offset)
        if found != -1:
            end = min(end, found + 1 if stop == "}" else found)
    excerpt = text[offset:end]
    return excerpt if len(excerpt) <= 60 else excerpt[:57] + "..."


@dataclass(frozen=True, slots=True)
class VariableUse:
    """One look-up of a variable: its value (``None`` when unset) and whether it stood
    bare (``$A``, ``${A}``: an unset one is worth a warning) or with an operator."""

    name: str
    value: str | None
    bare: bool


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with its variables replaced from ``variables``; raises InterpolationError."""
    return _Interpolator(text, variables).run()


def interpolate_recording(
    text: str, variables: Mapping[str, str]
) -> tuple[str, tuple[VariableUse, ...]]:
    """Like :func:`interpolate`, and also every variable looked up, in order."""
    interpolator = _Interpolator(text, variables)
    result = interpolator.run()
    return result, tuple(interpolator.uses)


class _Interpolator:
    """One interpolation of ``text``; ``uses`` collects the look-ups."""

    def __init__(self, text: str, variables: Mapping[str, str]) -> None:
        self.text = text
        self.variables = variables
        self.uses: list[VariableUse] = []
        # Index of the last "}" of each line (keyed by the line's end), found once.
        self._last_brace: dict[int, int] = {}

    def run(self) -> str:
        return self._substitute(0, len(self.text), 0)

    def _lookup(self, name: str, *, bare: bool) -> tuple[str, bool]:
        value = self.variables.get(name)
        self.uses.append(VariableUse(name, value, bare))
        return ("", False) if value is None else (value, True)

    def _fail(self, problem: Problem, offset: int) -> InterpolationError:
        return InterpolationError(problem, self.text, offset)

    def _substitute(self, start: int, end: int, depth: int) -> str:
        """Interpolate ``text[start:end]``; ``depth`` counts enclosing ``${...}``."""
        if depth > MAX_NESTING:
            raise self._fail(Problem.TOO_DEEP, start)
        text = self.text
        out: list[str] = []
        pos = start
        while True:
            dollar = text.find("$", pos, end)
            if dollar == -1 or dollar + 1 >= end:
                out.append(text[pos:end])
                return "".join(out)
            out.append(text[pos:dollar])
            nxt = text[dollar + 1]
            if nxt == "$":
                out.append("$")
                pos = dollar + 2
            elif nxt in _NAME_START:
                name_end = self._name_end(dollar + 1, end)
                out.append(self._lookup(text[dollar + 1 : name_end], bare=True)[0])
                pos = name_end
            elif nxt == "{":
                value, pos = self._braced(dollar, end, depth)
                out.append(value)
            else:  # any other "$" stays as it is
                out.append("$")
                pos = dollar + 1

    def _name_end(self, start: int, end: int) -> int:
        i = start
        while i < end and self.text[i] in _NAME_CHARS:
            i += 1
        return i

    def _braced(self, dollar: int, end: int, depth: int) -> tuple[str, int]:
        """Replace the ``${...}`` at ``dollar``; returns its value and where to go on."""
        text = self.text
        name_start = dollar + 2
        if name_start >= end or text[name_start] not in _NAME_START:
            raise self._fail(Problem.INVALID, dollar)
        name_end = self._name_end(name_start, end)
        name = text[name_start:name_end]
        if name_end < end and text[name_end] == "}":
            return self._lookup(name, bare=True)[0], name_end + 1
        operator = next((op for op in _OPERATORS if text.startswith(op, name_end, end)), None)
        if operator is None:
            raise self._fail(Problem.INVALID, dollar)
        arg_start = name_end + len(operator)
        # compose-go's pattern takes the argument greedily up to the last "}" of the line,
        # then cuts it at the "}" that closes the "${" (counting braces in between).
        last = self._last_brace_of_line(arg_start, end)
        if last < arg_start:
            raise self._fail(Problem.INVALID, dollar)
        closing = _closing_brace(text, dollar, last + 1)
        arg_end = last if closing == -1 else closing
        value = self._apply(name, operator, arg_start, arg_end, dollar, depth)
        return value, arg_end + 1

    def _last_brace_of_line(self, at: int, end: int) -> int:
        line_end = self.text.find("\n", at, end)
        if line_end == -1:
            line_end = end
        last = self._last_brace.get(line_end)
        if last is None:
            line_start = self.text.rfind("\n", 0, at) + 1
            last = self.text.rfind("}", line_start, line_end)
            self._last_brace[line_end] = last
        return last

    def _apply(
        self, name: str, operator: str, arg_start: int, arg_end: int, dollar: int, depth: int
    ) -> str:
        value, is_set = self._lookup(name, bare=False)
        non_empty = is_set and value != ""
        if operator in (":-", "-"):
            use_arg = not non_empty if operator == ":-" else not is_set
            return self._substitute(arg_start, arg_end, depth + 1) if use_arg else value
        if operator in (":+", "+"):
            use_arg = non_empty if operator == ":+" else is_set
            return self._substitute(arg_start, arg_end, depth + 1) if use_arg else value
        if non_empty if operator == ":?" else is_set:
            return value
        reason = self._substitute(arg_start, arg_end, depth + 1)
        raise InterpolationError(
            Problem.MISSING_REQUIRED, self.text, dollar, variable=name, reason=reason
        )


def _closing_brace(text: str, start: int, end: int) -> int:
    """compose-go's ``getFirstBraceClosingIndex`` on ``text[start:end]``, as an index into
    ``text``: the ``}`` that brings the count of ``{`` back to zero (the character right
    after each ``{`` is skipped), or -1."""
    depth = 0
    i = start
    while i < end:
        char = text[i]
        if char == "}":
            depth -= 1
            if depth == 0:
                return i
        elif char == "{":
            depth += 1
            i += 1
        i += 1
    return -1

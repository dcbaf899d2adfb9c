"""Env files as Compose reads them: the project's ``.env`` and a service's ``env_file:``.

The syntax is compose-go's ``dotenv`` parser (the Compose Specification, "Env_file
format"), ported rule for rule:

- blank lines and ``#`` lines are skipped; a leading UTF-8 BOM is dropped;
- ``[export ]NAME=VALUE`` or ``NAME: VALUE``; a name holds letters, digits, ``_ . - [ ]``;
  spaces around ``=`` are allowed, a space inside the name is an error;
- a bare ``NAME`` line takes the value of ``NAME`` from ``lookup`` (for ``.env`` the
  shell, for an ``env_file`` the project's variables); unset there, it is left out;
- unquoted: up to the line's end, cut at the first `` #``, trailing spaces dropped,
  **interpolated**;
- ``"double"``: may span lines; ``\\"`` is a quote; ``\\n \\t \\r \\a \\b \\f \\v \\\\``,
  ``\\0NNN`` (octal) and ``\\$`` (a literal ``$``) are expanded, then **interpolated**;
- ``'single'``: literal (``\\'`` is a quote; other backslashes stay);
- interpolation (:mod:`envkit.stackfile.interpolation`, so ``${A:-d}``, ``${A:?msg}``, ``$$``...)
  looks a variable up in ``lookup`` first, then among the values this file (and the
  earlier files) set.

One deliberate difference from compose-go: a bare ``NAME`` on the file's last line with
no newline after it is read like any other bare line (compose-go stores it under the
empty name ``""``).

docker-compose 1.29.2 read these files with python-dotenv instead: it expands only
``${A}`` and ``${A:-d}``, lets the file's own earlier values win over the shell's, and
has no ``\\$``; the two agree on plain values, quoting, comments, ``export`` and bare
names (see tests/unit/test_composeenv.py).

Pure: the caller reads the file (with :mod:`envkit.stackfile.envfiles`' defences) and passes the
text. A syntax error raises :class:`~envkit.errors.StackError` located at
``display:line:col``.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from envkit.errors import Origin, StackError
from envkit.stackfile.interpolation import InterpolationError, Problem, interpolate
from envkit.stackfile.rendered import EnvFileValue

__all__ = ["EnvFileValue", "ProjectEnvironment", "dotenv_environment", "parse_compose_env"]

_SPACE = "\t\v\f\r \x85\xa0"  # compose-go's isSpace: white space but not a line break


def _is_space(char: str) -> bool:
    """Go's ``unicode.IsSpace`` (Python's ``isspace`` also takes U+001C..U+001F)."""
    return char in _SPACE or char == "\n" or (char > "\xff" and char.isspace())


def _rstrip(text: str) -> str:
    end = len(text)
    while end and _is_space(text[end - 1]):
        end -= 1
    return text[:end]


_NAME_EXTRA = "_.-[]"
_EXPORT = re.compile(r"export[\t\n\f\r ]+")
_ESCAPE = re.compile(r'\\(?:[abcfnrtv$"\\]|0[0-9]{0,3})')
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "c": None,  # in compose-go's pattern, but not a Go escape: kept as written
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    '"': '"',
    "\\": "\\",
    "$": "$$",  # no Go escape: compose-go turns it into interpolation's literal "$"
}


class _Values(Mapping[str, str]):
    """Variables for interpolation: ``lookup`` first, then the values read so far."""

    def __init__(self, lookup: Mapping[str, str], read: Mapping[str, EnvFileValue]) -> None:
        self.lookup = lookup
        self.read = read

    def __getitem__(self, key: str) -> str:
        if key in self.lookup:
            return self.lookup[key]
        return self.read[key].value

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.lookup), **dict.fromkeys(self.read)})

    def __len__(self) -> int:
        return len(set(self.lookup) | set(self.read))


def parse_compose_env(
    text: str,
    display: str,
    lookup: Mapping[str, str],
    into: dict[str, EnvFileValue] | None = None,
) -> dict[str, EnvFileValue]:
    """Read one env file's ``text``; positions name ``display``.

    Values go into ``into`` (a later assignment wins), which is returned; it may hold the
    values of earlier files, which interpolation then sees after ``lookup``.
    """
    return _Parser(text, display, lookup, {} if into is None else into).run()


@dataclass(frozen=True, slots=True)
class ProjectEnvironment:
    """The variables a Compose file is interpolated with, and where each came from."""

    values: dict[str, str]  # the shell's, then the .env files' that the shell lacks
    from_files: dict[str, EnvFileValue]  # those set by a .env file (and not by the shell)


def dotenv_environment(
    shell: Mapping[str, str], files: Sequence[tuple[str, str]]
) -> ProjectEnvironment:
    """The project's variables, from the ``shell`` and the ``.env`` files ``(display,
    text)`` in order, as compose-go's ``GetEnvFromFile`` plus ``Environment.Merge``: the
    files are read with the shell's variables first (for interpolation and bare names),
    a later file overrides an earlier one, and a variable of the shell wins over a file's.
    """
    read: dict[str, EnvFileValue] = {}
    for display, text in files:
        parse_compose_env(text, display, _Values(shell, read), read)
    from_files = {name: value for name, value in read.items() if name not in shell}
    values = dict(shell)
    values.update((name, value.value) for name, value in from_files.items())
    return ProjectEnvironment(values, from_files)


class _Parser:
    def __init__(
        self, text: str, display: str, lookup: Mapping[str, str], out: dict[str, EnvFileValue]
    ) -> None:
        self.text = text[1:] if text.startswith("\ufeff") else text
        self.display = display
        self.lookup = lookup
        self.out = out
        self.values = _Values(lookup, out)
        # where each line starts, so that a position's line is a binary search away
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]

    def origin(self, pos: int) -> Origin:
        line = bisect_right(self.line_starts, pos)
        return Origin(self.display, line, pos - self.line_starts[line - 1] + 1)

    def fail(self, pos: int, message: str, hint: str) -> StackError:
        return StackError.single(
            "invalid-env-file-syntax", message, origin=self.origin(pos), hint=hint
        )

    def run(self) -> dict[str, EnvFileValue]:
        pos = 0
        while (pos := self._statement_start(pos)) < len(self.text):
            pos = self._statement(pos)
        return self.out

    def _statement_start(self, pos: int) -> int:
        text = self.text
        while pos < len(text):
            if _is_space(text[pos]):
                pos += 1
            elif text[pos] == "#":
                newline = text.find("\n", pos)
                pos = len(text) if newline == -1 else newline
            else:
                break
        return pos

    def _statement(self, start: int) -> int:
        text = self.text
        pos = start
        export = _EXPORT.match(text, pos)
        if export:
            pos += len("export")
            while pos < len(text) and text[pos] in _SPACE:
                pos += 1
        key_start = pos
        end = pos
        while end < len(text) and text[end] not in "=:\n":
            char = text[end]
            if not (char in _SPACE or char in _NAME_EXTRA or unicodedata.category(char)[0] in "LN"):
                # the name up to the bad character, never the rest of the line (a value)
                raise self.fail(
                    end,
                    f"unexpected character {char!r} in variable name {text[key_start : end + 1]!r}",
                    "a line reads NAME=VALUE; a name holds letters, digits and _ . - [ ]",
                )
            end += 1
        key = _rstrip(text[key_start:end])
        if " " in key:
            raise self.fail(
                key_start,
                # only the first word: "PASSWORD hunter2" would show the value
                f"a space follows the variable name {key.split(' ', 1)[0]!r}",
                "write NAME=VALUE, with no space inside NAME",
            )
        if end == len(text) or text[end] == "\n":  # a bare NAME: the value comes from lookup
            if key and key in self.lookup:
                self.out[key] = EnvFileValue(self.lookup[key], self.origin(key_start))
            return end + 1
        pos = end + 1
        while pos < len(text) and text[pos] in _SPACE:
            pos += 1
        value, pos = self._value(pos, key)
        self.out[key] = EnvFileValue(value, self.origin(key_start))
        return pos

    def _value(self, start: int, key: str) -> tuple[str, int]:
        text = self.text
        quote = text[start] if start < len(text) and text[start] in "'\"" else None
        if quote is None:
            newline = text.find("\n", start)
            end = len(text) if newline == -1 else newline
            value = text[start:end]
            comment = value.find(" #")
            if comment != -1:
                value = value[:comment]
            return self._interpolate(_rstrip(value), start, key), end + 1
        chars: list[str] = []
        escaped = False
        for i in range(start + 1, len(text)):
            char = text[i]
            if char != quote:
                if not escaped and char == "\\":
                    escaped = True
                    continue
                if escaped:
                    escaped = False
                    chars.append("\\")
                chars.append(char)
                continue
            if escaped:  # \" in "...", \' in '...'
                escaped = False
                chars.append(char)
                continue
            value = "".join(chars)
            if quote == '"':
                value = self._interpolate(_ESCAPE.sub(_unescape, value), start, key)
            return value, i + 1
        # compose-go prints the value; an env file's values are secrets, so only the name
        raise self.fail(
            start,
            f"the quoted value of {key} is not terminated",
            f"close the value with {quote}, or escape a {quote} inside it as \\{quote}",
        )

    def _interpolate(self, value: str, at: int, key: str) -> str:
        """Interpolate the value of ``key`` found at ``at``."""
        try:
            return interpolate(value, self.values)
        except InterpolationError as exc:
            # the offending text is part of a value, and values are secrets: name the key
            message = exc.message
            if exc.problem is not Problem.MISSING_REQUIRED:
                message = f"{exc.message.split(':', 1)[0]} in the value of {key}"
            raise StackError.single(
                exc.code, message, origin=self.origin(at), hint=exc.hint
            ) from None


def _unescape(match: re.Match[str]) -> str:
    """compose-go's ``expandEscapes`` for one ``\\x`` (Go's ``strconv.UnquoteChar``)."""
    seq = match.group(0)
    if seq[1] == "0":
        digits = seq[2:]
        # Go reads "\NNN": exactly three octal digits, at most 0o377; else kept as written
        if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) <= 0o377:
            return chr(int(digits, 8))
        return seq
    replacement = _ESCAPES[seq[1]]
    return seq if replacement is None else replacement

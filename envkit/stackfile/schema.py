"""Validate a stack tree against ``schemas/stack.schema.json``; every error, in plain English.

jsonschema's own messages (``'abc' is not valid under any of the given schemas``) are
translated here into located :class:`~envkit.errors.Diagnostic` values: unknown keys with a
"did you mean", type errors that name what is accepted, pattern errors with the message and
code the schema attaches to the pattern (``x-envkit-error``). For ``anyOf`` failures the
branch whose type fits the value explains the error; when none fits, the alternatives'
title ("an integer", "a port mapping ...") says what is accepted.

jsonschema is imported lazily: ``envkit --help`` must not pay for it, and a tree that
validated before (an unchanged stack file) does not either (:class:`_ValidMemo`).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from envkit.errors import Diagnostic, DocPath, Origin
from envkit.hints import did_you_mean

if TYPE_CHECKING:
    from envkit.stackfile.document import Document

__all__ = ["Locator", "describe", "schema", "validate", "validate_tree"]

_TEMPLATE_PATTERN = r"\{\{|\$\{?[A-Za-z_]"
_UNSUPPORTED_HINT = (
    "envkit cannot honour it yet; remove it (or rename it to 'x-...', which envkit and "
    "Compose ignore) to run the file with envkit"
)
_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "an empty value",
}


class Locator(Protocol):
    """Where a document path came from (``stackfile.Document`` is one)."""

    def origin(self, path: DocPath) -> Origin | None: ...

    def key_origin(self, path: DocPath) -> Origin | None: ...


@functools.cache
def schema() -> dict[str, Any]:
    """The stack file's JSON Schema, read once from the package."""
    from importlib.resources import files

    text = (files("envkit") / "schemas" / "stack.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema())


def validate(doc: Document) -> list[Diagnostic]:
    """Every schema error of a parsed stack file, sorted by position."""
    return validate_tree(doc.data, doc)


def validate_tree(tree: Mapping[str, Any], locator: Locator) -> list[Diagnostic]:
    """Every schema error of ``tree`` (raw or rendered), located through ``locator``."""
    memo = _ValidMemo.open()
    key = memo.key(tree) if memo is not None else None
    if key is not None and memo is not None and key in memo:
        return []
    found: dict[tuple[str, DocPath, str], Diagnostic] = {}
    for error in _validator().iter_errors(tree):
        for diag in _translate(error, locator):
            found.setdefault((diag.code, diag.path, diag.message), diag)
    if not found and key is not None and memo is not None:
        memo.add(key)
    return sorted(found.values(), key=_order)


# -- a memo of valid trees ------------------------------------------------------------------


class _ValidMemo:
    """Trees that validated before, so an unchanged stack file skips jsonschema (its import
    and two validations are a fifth of a no-op ``up``). Validation is a pure function of the
    schema and the tree, so the memo is keyed by both: an HMAC-SHA256 under a random
    per-user key (a rendered tree may hold secrets; the file must say nothing about them).
    Only valid trees are remembered, so every error is still found by jsonschema and
    explained as usual. Lives in ``cache/`` of the per-user private state folder
    (:mod:`envkit.statedir`), so no other user can plant a key or a list of "valid" trees;
    an unsafe folder or file (not ours, a symlink) means no memo, as does any I/O problem;
    ``ENVKIT_NO_CACHE=1`` turns it off."""

    LIMIT = 1000  # remembered trees; the file is rewritten with the newest half past it

    def __init__(self, directory: Path, secret: bytes, known: list[str]) -> None:
        self.path = directory / "valid-trees"
        self.secret = secret
        self.known = known
        self.known_set = set(known)

    @classmethod
    def open(cls) -> _ValidMemo | None:
        from envkit.statedir import UnsafeStateDir, open_private, private_dir

        if os.environ.get("ENVKIT_NO_CACHE"):
            return None
        try:
            directory = private_dir("cache")
            key_file = directory / "memo.key"
            try:
                fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(os.urandom(32))
            secret = _read_private(open_private(key_file, os.O_RDONLY))
            if len(secret) != 32:
                return None
            known = _read_private(open_private(directory / "valid-trees", os.O_RDONLY))
            return cls(directory, secret, known.decode("ascii").split())
        except (OSError, ValueError, UnsafeStateDir):  # a race, a read-only home: no memo
            return None

    def key(self, tree: Mapping[str, Any]) -> str | None:
        """The tree's digest, or None when it holds something JSON cannot say exactly
        (a date, a byte string): such a tree is validated every time."""
        if not _plain_json(tree):
            return None
        text = json.dumps([_schema_text(), tree], sort_keys=True, separators=(",", ":"))
        return hmac.new(self.secret, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def __contains__(self, key: str) -> bool:
        return key in self.known_set

    def add(self, key: str) -> None:
        try:
            if len(self.known) >= self.LIMIT:
                keep = [*self.known[-self.LIMIT // 2 :], key]
                tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
                flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                with os.fdopen(os.open(tmp, flags, 0o600), "w", encoding="ascii") as f:
                    f.write("\n".join(keep) + "\n")
                os.replace(tmp, self.path)
            else:  # one short O_APPEND write: concurrent envkits do not interleave lines
                flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
                fd = os.open(self.path, flags, 0o600)
                try:
                    os.write(fd, (key + "\n").encode("ascii"))
                finally:
                    os.close(fd)
        except OSError:
            pass


def _read_private(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as f:
        return f.read(1 << 20)


@functools.cache
def _schema_text() -> str:
    return json.dumps(schema(), sort_keys=True, separators=(",", ":"))


def _plain_json(value: Any) -> bool:
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    # Exactly dict and list: what jsonschema takes for "object" and "array".
    if type(value) is dict:
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    if type(value) is list:
        return all(_plain_json(v) for v in value)
    return False


def _order(diag: Diagnostic) -> tuple[int, int, str]:
    if diag.origin is None:
        return (0, 0, str(diag.path))
    return (diag.origin.line, diag.origin.col, str(diag.path))


def describe(value: Any) -> str:
    """A value as a message shows it: ``'abc'``, ``42``, ``true``, ``null``, ``a list``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return repr(shown)
    if isinstance(value, int) and value.bit_length() > 200:
        return "a number too large to show"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _path(error: Any) -> DocPath:
    return tuple(error.absolute_path)


def _translate(error: Any, locator: Locator) -> Iterable[Diagnostic]:
    for leaf in _leaves(error):
        yield from _explain(leaf, locator)


def _explain(error: Any, locator: Locator) -> Iterable[Diagnostic]:
    path = _path(error)
    validator = error.validator
    value = error.instance
    sch: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}

    if "propertyNames" in error.schema_path:
        key_path = (*path, value)
        custom = sch.get("x-envkit-error", {})
        yield Diagnostic(
            custom.get("code", "invalid-name"),
            f"{describe(value)} {custom.get('message', 'is not a valid name')}",
            key_path,
            locator.key_origin(key_path),
            custom.get("hint"),
        )
        return
    if validator == "additionalProperties" and isinstance(value, dict):
        yield from _unknown_keys(value, sch, path, locator)
        return

    origin = locator.origin(path)
    if validator == "required":
        for key in error.validator_value:
            if isinstance(value, dict) and key not in value:
                yield Diagnostic(
                    "missing-key", f"missing key '{key}'", path, origin, f"add '{key}:' here"
                )
        return
    if validator in ("type", "anyOf", "oneOf"):
        title = sch.get("title") or _type_title(error.validator_value, validator)
        code = "wrong-type"
        yield Diagnostic(code, f"expected {title}, got {describe(value)}", path, origin, _hint(sch))
        return
    if validator == "pattern":
        custom = sch.get("x-envkit-error", {})
        message = custom.get("message", "has an invalid format")
        yield Diagnostic(
            custom.get("code", "invalid-value"),
            f"{describe(value)} {message}",
            path,
            origin,
            custom.get("hint"),
        )
        return
    if validator == "enum":
        choices = [str(c) for c in error.validator_value]
        hint = did_you_mean(value, choices) or f"use one of: {', '.join(choices)}"
        yield Diagnostic(
            "invalid-value",
            f"{describe(value)} is not one of: {', '.join(choices)}",
            path,
            origin,
            hint,
        )
        return
    yield Diagnostic("invalid-value", _bound_message(error), path, origin, None)


def _bound_message(error: Any) -> str:
    limit = error.validator_value
    messages = {
        "minimum": f"must be at least {limit}, got {describe(error.instance)}",
        "maximum": f"must be at most {limit}, got {describe(error.instance)}",
        "exclusiveMinimum": f"must be greater than {limit}, got {describe(error.instance)}",
        "minItems": "must not be empty" if limit == 1 else f"needs at least {limit} items",
        "uniqueItems": "lists the same item twice",
    }
    return messages.get(error.validator, str(error.message))


def _type_title(expected: Any, validator: str) -> str:
    if validator != "type":
        return "another form"
    names = [expected] if isinstance(expected, str) else list(expected)
    return " or ".join(_TYPE_NAMES.get(n, n) for n in names)


def _hint(sch: Mapping[str, Any]) -> str | None:
    description = sch.get("description")
    return str(description) if isinstance(description, str) and len(description) < 200 else None


def _unknown_keys(
    value: dict[str, Any], sch: Mapping[str, Any], path: DocPath, locator: Locator
) -> Iterable[Diagnostic]:
    import re

    known = list(sch.get("properties", {}))
    patterns = [re.compile(p) for p in sch.get("patternProperties", {})]
    compose_keys: Mapping[str, str] = sch.get("x-envkit-compose-keys", {})
    for key in value:
        if key in known or any(p.search(key) for p in patterns):
            continue
        key_path = (*path, key)
        if key in compose_keys:
            yield Diagnostic(
                "unsupported-compose-key",
                f"Compose key '{key}' is not supported by envkit",
                key_path,
                locator.key_origin(key_path),
                compose_keys[key] or _UNSUPPORTED_HINT,
            )
            continue
        hint = did_you_mean(key, known)
        if hint is None and known:
            hint = f"the keys here are: {', '.join(sorted(known))}"
        yield Diagnostic(
            "unknown-key", f"unknown key '{key}'", key_path, locator.key_origin(key_path), hint
        )


def _leaves(error: Any) -> list[Any]:
    """Descend through ``anyOf``/``oneOf`` to the errors of the branch that fits the value.

    A branch fits when the value has its type (its errors are deeper, or about a pattern,
    an enum, a bound). The template branch never fits: it only explains itself when the
    value is a string with ``{{`` in it, and then it has no error. When no branch or more
    than one fits, the ``anyOf`` error itself is reported with its title.
    """
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    fitting = [errs for errs in _groups(error) if _fits(errs)]
    if len(fitting) != 1:
        return [error]
    return [leaf for sub in fitting[0] for leaf in _leaves(sub)]


def _fits(errors: list[Any]) -> bool:
    for sub in errors:
        if sub.relative_path:
            continue
        sch = sub.schema if isinstance(sub.schema, Mapping) else {}
        if sub.validator == "type":
            return False
        if sub.validator == "pattern" and sch.get("pattern") == _TEMPLATE_PATTERN:
            return False
        if sub.validator in ("anyOf", "oneOf") and not any(_fits(group) for group in _groups(sub)):
            return False
    return True


def _groups(error: Any) -> Iterable[list[Any]]:
    branches: dict[Any, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    return branches.values()

"""Read ``env_file`` entries, for an environment (render) and for a service (normalize).

The contract both share:

- ``env_file`` is one entry or a list of them; an entry is a path or ``{path, required}``
  (anything else is ``invalid-env-file``);
- paths are relative to the stack file's folder; a missing file is ``missing-env-file``
  unless ``required: false``;
- files are read as UTF-8 with python-dotenv, without ``${VAR}`` interpolation; a bare
  ``NAME`` line (no ``=``) is ignored; a later file overrides an earlier one; with
  ``compose_lookup`` (a Compose file's ``env_file:``) they are read with Compose's rules
  instead (:mod:`envkit.stackfile.composeenv`: interpolation from ``compose_lookup`` and the values
  read so far, a bare ``NAME`` from ``compose_lookup``);
- a file that cannot be read (a directory, a FIFO or device, not UTF-8, no permission)
  is ``unreadable-env-file``.

Problems come back as data (code, message, path, hint) for the caller to report through
its own diagnostics, so each caller keeps its own positions and redaction. python-dotenv
is imported on first use, so importing envkit stays fast.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envkit.errors import DocPath, Origin, StackError
from envkit.stackfile.rendered import EnvFileValue

__all__ = ["EnvFileProblem", "EnvFileValue", "EnvFiles", "read_env_files"]


@dataclass(frozen=True, slots=True)
class EnvFileProblem:
    """A bad, missing or unreadable entry; ``path`` is the entry's path in the stack file."""

    code: str  # invalid-env-file | missing-env-file | unreadable-env-file
    message: str
    path: DocPath
    hint: str | None = None


@dataclass(frozen=True, slots=True)
class EnvFiles:
    """What the entries gave: variables (later files win) and the problems found."""

    values: dict[str, EnvFileValue]
    problems: tuple[EnvFileProblem, ...]


def read_env_files(
    spec: Any,
    at: DocPath,
    directory: Path,
    *,
    names_relative_to: str | None = None,
    with_reasons: bool = False,
    compose_lookup: Mapping[str, str] | None = None,
) -> EnvFiles:
    """Read the ``env_file`` value ``spec`` found at ``at``; files resolve in ``directory``.

    Messages and origins name a file by its entry as written, or, with
    ``names_relative_to``, by the entry joined to that folder and normalized (the stack
    file's folder as the user named it, so ``stacks/.env``). ``with_reasons`` adds why an
    unreadable file could not be read (``: Is a directory``).
    """
    if spec is None:
        return EnvFiles({}, ())
    from dotenv import dotenv_values

    entries: list[tuple[Any, DocPath]]
    if isinstance(spec, list):
        entries = [(entry, (*at, i)) for i, entry in enumerate(spec)]
    else:
        entries = [(spec, at)]
    found: dict[str, EnvFileValue] = {}
    problems: list[EnvFileProblem] = []
    for entry, path in entries:
        required = True
        if isinstance(entry, dict):
            required = entry.get("required", True) is not False
            entry = entry.get("path")
        if not isinstance(entry, str) or not entry:
            problems.append(
                EnvFileProblem(
                    "invalid-env-file", "an env_file entry is a path or {path, required}", path
                )
            )
            continue
        file = directory / entry
        shown = (
            entry
            if names_relative_to is None
            else os.path.normpath(os.path.join(names_relative_to, entry))
        )
        if not file.exists():
            if required:
                problems.append(
                    EnvFileProblem(
                        "missing-env-file",
                        f"env file '{shown}' does not exist",
                        path,
                        f"create it, or mark it optional: {{path: {entry}, required: false}}",
                    )
                )
            continue
        try:
            if file.exists() and not file.is_file() and not file.is_dir():
                # A FIFO or a device would block the read (or never end): refuse it.
                raise OSError(0, "not a regular file")
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            message = f"env file '{shown}' cannot be read"
            if with_reasons:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8"
                message = f"{message}: {reason}"
            problems.append(EnvFileProblem("unreadable-env-file", message, path))
            continue
        if compose_lookup is not None:
            try:
                from envkit.stackfile.composeenv import parse_compose_env

                parse_compose_env(text, shown, compose_lookup, found)
            except StackError as exc:
                first = exc.diagnostics[0]
                message = f"{first.origin}: {first.message}" if first.origin else first.message
                problems.append(EnvFileProblem(first.code, message, path, first.hint))
            continue
        lines = _line_numbers(text)
        values = dotenv_values(stream=io.StringIO(text), interpolate=False)
        for name, value in values.items():
            if value is not None:
                found[name] = EnvFileValue(value, Origin(shown, lines.get(name, 1), 1))
    return EnvFiles(found, tuple(problems))


_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=", re.MULTILINE)


def _line_numbers(text: str) -> dict[str, int]:
    """Line of the last assignment of each name in an env file (the one dotenv keeps)."""
    return {m.group(1): text.count("\n", 0, m.start()) + 1 for m in _ENV_LINE.finditer(text)}

"""Compose's ``${VAR}`` interpolation of the values written in Compose files.

The one rule for how it meets Jinja2: **each string is read by the language of the file it
was written in.** A value written in a Compose file (``compose.yaml``, its override, a file
taken in by ``include:`` or ``extends:``) is interpolated exactly as Compose does it
(:mod:`envkit.stackfile.interpolation`, compose-go's rules) and never by Jinja, so a Go
template such as ``{{ .Name }}`` in a label stays as it is. A value written in an envkit
stack file is rendered by Jinja and ``$`` there is an ordinary character, so a password
such as ``pa$word`` in an existing envkit stack keeps its meaning; Jinja's ``{{ env.NAME }}``
is how an envkit stack reads the environment. No value is read by both, so neither can
inject syntax into the other, and upgrading envkit changed the meaning of no value.

The variables are Compose's: the process environment, over the project's ``.env`` (in the
folder of the first Compose file) or the ``--env-file`` files given instead, read with
Compose's dotenv rules (:mod:`envkit.stackfile.composeenv`). A variable whose name looks
secret (PASSWORD, TOKEN, KEY... as everywhere in envkit) or is listed under ``sensitive:``
is a secret: its value is masked wherever it lands.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envkit.errors import Diagnostic, DocPath, Origin
from envkit.stackfile.composeenv import dotenv_environment
from envkit.stackfile.dialect import normalize_project_name
from envkit.stackfile.interpolation_tree import interpolate_tree

__all__ = ["ComposeVariables", "interpolate_compose", "interpolate_name", "project_variables"]

MAX_ENV_FILE = 1 << 20  # a .env larger than 1 MiB is not configuration


@dataclass(frozen=True, slots=True)
class ComposeVariables:
    values: Mapping[str, str]
    from_files: frozenset[str]  # names whose value came from a .env file
    problems: tuple[Diagnostic, ...]


@dataclass(frozen=True, slots=True)
class Interpolated:
    parts: dict[str, Any]
    problems: tuple[Diagnostic, ...]
    warnings: tuple[Diagnostic, ...]
    secrets: frozenset[str]  # values of secret variables that reached the document


def _read(path: Path, shown: str) -> tuple[str | None, Diagnostic | None]:
    """A .env file's text: a regular UTF-8 file of at most 1 MiB (never a FIFO or device)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, _problem(shown, f"cannot be read: {exc.strerror}")
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, _problem(shown, "is not a regular file")
        if info.st_size > MAX_ENV_FILE:
            return None, _problem(shown, f"is larger than {MAX_ENV_FILE} bytes")
        data = os.read(fd, MAX_ENV_FILE + 1)
    finally:
        os.close(fd)
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, _problem(shown, "is not UTF-8 text")


def _problem(shown: str, what: str) -> Diagnostic:
    return Diagnostic(
        "unreadable-env-file",
        f"the env file '{shown}' {what}",
        (),
        Origin(shown, 1, 1),
        "Compose reads the project's .env (or --env-file) as UTF-8 text",
    )


def project_variables(
    directory: Path, environ: Mapping[str, str], env_files: Sequence[str] = ()
) -> ComposeVariables:
    """The variables Compose files are interpolated with: ``environ`` over ``.env`` in
    ``directory`` (or, instead, every ``env_files`` entry, which must exist)."""
    from envkit.errors import StackError

    texts: list[tuple[str, str]] = []
    problems: list[Diagnostic] = []
    wanted = [(Path(f), f, True) for f in env_files] or [(directory / ".env", ".env", False)]
    for path, shown, required in wanted:
        text, problem = _read(path, shown)
        if problem is not None:
            problems.append(problem)
        elif text is None and required:
            problems.append(_problem(shown, "does not exist"))
        elif text is not None:
            texts.append((shown, text))
    try:
        project = dotenv_environment(environ, texts)
    except StackError as exc:
        return ComposeVariables(dict(environ), frozenset(), (*problems, *exc.diagnostics))
    return ComposeVariables(project.values, frozenset(project.from_files), tuple(problems))


def interpolate_compose(
    parts: dict[str, Any],
    variables: ComposeVariables,
    origin_of: Callable[[DocPath], Origin | None],
    written_in_compose: Callable[[DocPath], bool],
    is_secret: Callable[[str], bool],
) -> Interpolated:
    """Interpolate the Compose-written strings of ``parts`` (``{"services": ...}``)."""
    result = interpolate_tree(parts, variables.values, origin_of, only=written_in_compose)
    warnings = tuple(
        Diagnostic(
            "unset-variable",
            f"the {name} variable is not set; it is a blank string (as in Compose)",
            use.path,
            use.origin,
            f"set {name} in the environment or the project's .env, or write ${{{name}:-default}}",
        )
        for name in result.unset
        for use in [next(u for u in result.uses if u.name == name)]
    )
    secret_names = {u.name for u in result.uses if is_secret(u.name)}
    return Interpolated(
        dict(result.root),
        result.problems,
        warnings,
        result.values_of(secret_names),
    )


def interpolate_name(
    name: str, origin: Origin | None, variables: ComposeVariables
) -> tuple[str, tuple[Diagnostic, ...]]:
    """A Compose file's ``name: ${VAR}`` as compose-go reads it: interpolated, then
    normalised (lowercased, other characters than ``a-z 0-9 _ -`` dropped, leading ``_``
    and ``-`` too). ``""`` means "no name": the project is named after its folder."""
    result = interpolate_tree({"name": name}, variables.values, lambda _path: origin, casts=())
    problems = (*variables.problems, *result.problems)
    return normalize_project_name(str(result.root["name"])), problems

"""envkit's errors: one hierarchy, one place (``cli.main``) that maps them to exit codes.

::

    EnvkitError                  message, origin, hint, code; exit 1 unless said otherwise
    ├── StackError               the stack file or its inputs are wrong (exit 2)
    │                            carries one or more located Diagnostics
    ├── UsageError               the command line is wrong (exit 2)
    ├── EngineError              the Docker engine failed or refused an operation
    │   ├── EngineUnavailable    no engine answers (names DOCKER_HOST / the socket)
    │   └── ImageNotFound        an image is neither local nor obtainable
    ├── PlanConflict             plan-time conflict: a port or a name owned by someone else
    ├── ApplyError               a container failed to start or become healthy (carries logs)
    ├── LockTimeout              another envkit holds the instance's lock
    └── UnsafeStateDir           the private state folder (locks, logs, memo) is not safe:
                                 another user could change it (envkit.statedir)

Every message may contain user values; :func:`redact` replaces sensitive values with
``(sensitive)`` and every printer calls it, so a secret never reaches a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "SENSITIVE",
    "ApplyError",
    "Diagnostic",
    "EngineError",
    "EngineUnavailable",
    "EnvkitError",
    "ImageNotFound",
    "LockTimeout",
    "Origin",
    "PlanConflict",
    "StackError",
    "UnsafeStateDir",
    "UsageError",
    "format_path",
    "redact",
]

SENSITIVE = "(sensitive)"

PathPart = str | int
DocPath = tuple[PathPart, ...]  # a place in a stack file: ("services", "db", "ports", 0)


@dataclass(frozen=True, slots=True, order=True)
class Origin:
    """Where a value came from: ``file:line:col`` (1-based)."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


def format_path(path: Sequence[PathPart]) -> str:
    """``("services", "db", "ports", 0)`` -> ``services.db.ports[0]``; ``()`` -> ``(root)``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(root)"


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of every secret value (longest first) by ``(sensitive)``."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, SENSITIVE)
    return text


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One located problem in a stack file."""

    code: str  # kebab-case, e.g. "invalid-port"
    message: str  # what is wrong, without the location
    path: DocPath = ()  # document path
    origin: Origin | None = None
    hint: str | None = None

    def render(self, level: str = "error") -> str:
        where = f"{self.origin}: " if self.origin else ""
        head = f"{where}{level}[{self.code}]: {format_path(self.path)}: {self.message}"
        return f"{head}\n  hint: {self.hint}" if self.hint else head

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "path": format_path(self.path),
            "file": self.origin.file if self.origin else None,
            "line": self.origin.line if self.origin else None,
            "column": self.origin.col if self.origin else None,
            "hint": self.hint,
        }


class EnvkitError(Exception):
    """Base of every error envkit reports to a user."""

    code = "envkit-error"
    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        origin: Origin | None = None,
        code: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.origin = origin
        self.detail = detail  # extra text shown after the message (logs, a plan excerpt)
        if code is not None:
            self.code = code

    def to_json(self) -> dict[str, object]:
        """The error under ``--json`` (``{format_version, error: this}`` on stdout)."""
        return {
            "code": self.code,
            "message": self.message,
            "hint": self.hint,
            "detail": self.detail,
            "file": self.origin.file if self.origin else None,
            "line": self.origin.line if self.origin else None,
            "column": self.origin.col if self.origin else None,
        }

    def render(self) -> str:
        where = f"{self.origin}: " if self.origin else ""
        out = f"{where}error[{self.code}]: {self.message}"
        if self.detail:
            out += "\n" + self.detail.rstrip("\n")
        if self.hint:
            out += f"\n  hint: {self.hint}"
        return out


class StackError(EnvkitError):
    """The stack file (or an env file, a variable, a template) is invalid."""

    code = "invalid-stack"
    exit_code = 2

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        if not diagnostics:
            raise ValueError("StackError needs at least one diagnostic")
        self.diagnostics = tuple(diagnostics)
        first = self.diagnostics[0]
        super().__init__(first.message, hint=first.hint, origin=first.origin, code=first.code)

    @classmethod
    def single(
        cls,
        code: str,
        message: str,
        *,
        path: DocPath = (),
        origin: Origin | None = None,
        hint: str | None = None,
    ) -> StackError:
        return cls([Diagnostic(code, message, path, origin, hint)])

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "diagnostics": [d.to_json() for d in self.diagnostics]}


class UsageError(EnvkitError):
    code = "usage"
    exit_code = 2


class EngineError(EnvkitError):
    code = "engine-error"


class EngineUnavailable(EngineError):
    code = "engine-unavailable"


class ImageNotFound(EngineError):
    code = "image-not-found"


class PlanConflict(EnvkitError):
    code = "conflict"

    def __init__(
        self,
        message: str,
        *,
        conflicts: Sequence[Mapping[str, object]] = (),
        hint: str | None = None,
        detail: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, detail=detail, code=code)
        self.conflicts = tuple(conflicts)  # each {code, message, hint, service, ...details}

    def to_json(self) -> dict[str, object]:
        return {**super().to_json(), "conflicts": [dict(c) for c in self.conflicts]}


class ApplyError(EnvkitError):
    code = "apply-failed"


class LockTimeout(EnvkitError):
    code = "locked"


class UnsafeStateDir(EnvkitError):
    code = "unsafe-state-dir"

"""The front half of the pipeline in one place: read -> validate -> render -> model.

``read`` gives a validated :class:`~envkit.stackfile.Document`; ``resolve`` turns it into
the desired state of one environment instance. Both raise :class:`StackError` carrying
every located diagnostic found at that stage, so a user sees all problems at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from envkit.errors import Diagnostic, StackError, redact
from envkit.model import DesiredState
from envkit.render import Rendered, render
from envkit.stackfile import Document, load

__all__ = ["DEFAULT_FILE", "Resolved", "environments", "read", "resolve"]

DEFAULT_FILE = "envkit.yaml"


@dataclass(frozen=True, slots=True)
class Resolved:
    rendered: Rendered
    desired: DesiredState


def read(path: str | os.PathLike[str] = DEFAULT_FILE) -> Document:
    """Load and validate a stack file (schema and cross-reference checks)."""
    from envkit import checks, schema

    doc = load(path, display=os.fspath(path))
    problems = schema.validate(doc)
    if not problems:
        # Cross-reference checks assume the shapes the schema guarantees.
        problems = checks.check_document(doc)
    if problems:
        raise StackError(problems)
    return doc


def environments(doc: Document) -> list[str]:
    envs = doc.data.get("environments") or {}
    return list(envs) if isinstance(envs, dict) else []


def _redacted(d: Diagnostic, secrets: frozenset[str]) -> Diagnostic:
    hint = redact(d.hint, secrets) if d.hint else d.hint
    return replace(d, message=redact(d.message, secrets), hint=hint)


def resolve(
    doc: Document,
    environment: str,
    *,
    cli_vars: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    instance: str | None = None,
) -> Resolved:
    """Render one environment and build its desired state, or raise StackError."""
    from envkit import checks, schema
    from envkit.normalize import to_desired

    rendered = render(doc, environment, cli_vars=cli_vars, environ=environ, instance=instance)
    problems: list[Diagnostic] = schema.validate_tree(rendered.tree, rendered)
    if not problems:
        problems = checks.check_services(rendered.tree, rendered)
    if problems:
        # These checks quote rendered values, which may hold secrets: mask them here, at
        # the one place that knows both the messages and the sensitive values.
        secrets = rendered.sensitive_values
        raise StackError([_redacted(d, secrets) for d in problems])
    return Resolved(rendered, to_desired(rendered))

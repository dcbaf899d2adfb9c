"""The front half of the pipeline in one place: read -> validate -> render -> model.

``read`` gives a validated :class:`~envkit.stackfile.document.Document`; ``resolve`` turns it into
the desired state of one environment instance. Both raise :class:`StackError` carrying
every located diagnostic found at that stage, so a user sees all problems at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from envkit.errors import Diagnostic, StackError, redact
from envkit.model import DesiredState
from envkit.stackfile.document import Document, load
from envkit.stackfile.render import Rendered, render

__all__ = ["DEFAULT_FILE", "Resolved", "environments", "read", "resolve"]

DEFAULT_FILE = "envkit.yaml"


@dataclass(frozen=True, slots=True)
class Resolved:
    rendered: Rendered
    desired: DesiredState


def read(path: str | os.PathLike[str] = DEFAULT_FILE) -> Document:
    """Load and validate a stack file (schema and cross-reference checks)."""
    return _validated(load(path, display=os.fspath(path)))


def read_text(
    text: str, *, base_dir: str | os.PathLike[str], display: str = "<inline stack>"
) -> Document:
    """Validate a stack given as text (``envkit.loads``): relative paths in it (binds,
    build contexts, env files) are taken from ``base_dir``; messages name ``display``."""
    from pathlib import Path

    from envkit.stackfile.document import parse

    path = Path(os.path.abspath(base_dir)) / "envkit.yaml"
    return _validated(parse(text, path=path, display=display))


def _validated(doc: Document) -> Document:
    from envkit.stackfile import checks, schema

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
    from envkit.stackfile import checks, schema
    from envkit.stackfile.normalize import to_desired

    rendered = render(doc, environment, cli_vars=cli_vars, environ=environ, instance=instance)
    problems: list[Diagnostic] = schema.validate_tree(rendered.tree, rendered)
    if not problems:
        problems = checks.check_services(rendered.tree, rendered)
    if problems:
        # These checks quote rendered values, which may hold secrets: mask them here, at
        # the one place that knows both the messages and the sensitive values.
        secrets = rendered.sensitive_values
        raise StackError([_redacted(d, secrets) for d in problems])
    desired = _as_instance(doc, rendered, to_desired(rendered))
    return Resolved(rendered, _images(doc, rendered, desired))


def _images(doc: Document, rendered: Rendered, desired: DesiredState) -> DesiredState:
    """Where images come from: every pulled image renamed into the environment's
    ``registry`` (``envkit.stackfile.imageref``, pure), and every local build context hashed
    (``envkit.stackfile.buildcontext``: reads files), so a changed context changes the spec hash."""
    from envkit.stackfile.buildcontext import with_context_hashes
    from envkit.stackfile.imageref import with_registry

    envs = doc.data.get("environments")
    env_def = envs.get(rendered.environment) if isinstance(envs, dict) else None
    registry = env_def.get("registry") if isinstance(env_def, dict) else None
    desired = with_registry(desired, registry if isinstance(registry, str) else None)
    if any(s.build is not None for s in desired.services):
        desired = with_context_hashes(desired, rendered.origin)
    return desired


def _as_instance(doc: Document, rendered: Rendered, desired: DesiredState) -> DesiredState:
    """Apply the environment's instance rules (``envkit.stackfile.instances``): random host ports
    for the instances of an ``ephemeral_ports`` environment; no read-write external volume
    shared by instances."""
    from envkit.stackfile.instances import ephemeral_ports_flag, random_ports, shared_names

    at: tuple[str, ...] = ("environments", rendered.environment, "ephemeral_ports")
    envs = doc.data.get("environments")
    env_def = envs.get(rendered.environment) if isinstance(envs, dict) else None
    flag = ephemeral_ports_flag(env_def, at, doc.origin(at))
    problems: list[Diagnostic] = []
    if isinstance(flag, Diagnostic):
        problems.append(flag)
    elif flag and desired.instance:
        desired = random_ports(desired)
    for service, _volume, message in shared_names(desired):
        path = ("services", service, "volumes")
        problems.append(
            Diagnostic(
                "shared-volume",
                message,
                path,
                rendered.origin(path),
                "mount it read-only (':ro'), or use a volume of the stack (each instance "
                "gets its own) instead of an external one",
            )
        )
    if problems:
        raise StackError(problems)
    return desired

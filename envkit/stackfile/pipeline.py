"""The front half of the pipeline in one place: read -> validate -> render -> model.

``read`` gives a validated :class:`~envkit.stackfile.document.Document`; ``resolve`` turns it into
the desired state of one environment instance. Both raise :class:`StackError` carrying
every located diagnostic found at that stage, so a user sees all problems at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from envkit.errors import Diagnostic, StackError, redact
from envkit.model import DesiredState
from envkit.stackfile.document import Document, load
from envkit.stackfile.render import compose_directory, render
from envkit.stackfile.rendered import Rendered

__all__ = [
    "DEFAULT_FILE",
    "DEFAULT_FILES",
    "OVERRIDE_FILES",
    "Resolved",
    "environments",
    "find_stack_files",
    "read",
    "resolve",
]

DEFAULT_FILE = "envkit.yaml"
# Looked for, in this order, when no file is named; the first one found is the stack file.
DEFAULT_FILES = (DEFAULT_FILE, "compose.yaml", "compose.yml", "docker-compose.yml",
                 "docker-compose.yaml")  # fmt: skip
# Next to a Compose file found that way, the first of these is merged onto it (as Compose
# does; compose-go's DefaultOverrideFileNames). An envkit.yaml has no override file.
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml",
                  "docker-compose.override.yml", "docker-compose.override.yaml")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Resolved:
    rendered: Rendered
    desired: DesiredState


def find_stack_files(directory: str | os.PathLike[str] = ".") -> list[str]:
    """The stack file(s) of ``directory`` when none is named: the first of
    :data:`DEFAULT_FILES`, and for a Compose file the first of :data:`OVERRIDE_FILES` next
    to it; ``[]`` when there is none. Paths are as shown to the user (``compose.yaml`` for
    the current directory)."""
    import stat

    def exists(name: str) -> str | None:
        path = os.path.join(directory, name)
        try:
            return os.path.normpath(path) if stat.S_ISREG(os.stat(path).st_mode) else None
        except OSError:
            return None

    for name in DEFAULT_FILES:
        found = exists(name)
        if found is None:
            continue
        if name == DEFAULT_FILE:
            return [found]
        override = next(filter(None, map(exists, OVERRIDE_FILES)), None)
        return [found] if override is None else [found, override]
    return []


def read(
    path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = DEFAULT_FILE,
    *,
    env_files: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Document:
    """Load and validate a stack file (schema and cross-reference checks). Several files
    are merged in order with Compose's merge rules (``envkit.stackfile.merge``); the first
    one decides the dialect (``envkit.stackfile.dialect``). A Compose file's ``name:
    ${VAR}`` is interpolated from ``environ`` (the process environment) over the project's
    ``.env``, or the ``env_files`` given instead, as ``render`` does."""
    from envkit.stackfile.extends import with_extends
    from envkit.stackfile.include import with_includes

    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    docs = [load(p, display=os.fspath(p)) for p in paths]
    named = _named(_merged(docs), os.environ if environ is None else environ, env_files)
    return _validated(with_extends(with_includes(named)))


def read_text(
    text: str, *, base_dir: str | os.PathLike[str], display: str = "<inline stack>"
) -> Document:
    """Validate a stack given as text (``envkit.loads``): relative paths in it (binds,
    build contexts, env files) are taken from ``base_dir``; messages name ``display``."""
    from pathlib import Path

    from envkit.stackfile.document import parse
    from envkit.stackfile.extends import with_extends
    from envkit.stackfile.include import with_includes

    path = Path(os.path.abspath(base_dir)) / "envkit.yaml"
    doc = parse(text, path=path, display=display)
    return _validated(with_extends(with_includes(_merged([doc]))))


def _validated(doc: Document) -> Document:
    from envkit.stackfile import checks, schema

    problems = schema.validate(doc)
    if not problems:
        # Cross-reference checks assume the shapes the schema guarantees.
        problems = checks.check_document(doc)
    if problems:
        raise StackError(problems)
    return doc


def _named(doc: Document, environ: Mapping[str, str], env_files: Sequence[str]) -> Document:
    """``name: ${VAR}`` written in a Compose file, interpolated and normalised as compose-go
    does; a name that normalises to nothing leaves the folder's name. A literal name is
    left to the schema, which refuses one that is not already a project name."""
    name = doc.data.get("name")
    origin = doc.origin(("name",))
    if not isinstance(name, str) or "$" not in name or origin is None:
        return doc
    if origin.file not in doc.compose_files:
        return doc
    from envkit.stackfile.composevars import interpolate_name, project_variables

    variables = project_variables(compose_directory(doc), environ, env_files)
    value, problems = interpolate_name(name, origin, variables)
    if problems:
        raise StackError(problems)
    data = {k: (value if k == "name" else v) for k, v in doc.data.items() if k != "name" or value}
    return replace(doc, data=data)


def _merged(docs: list[Document]) -> Document:
    from envkit.stackfile.dialect import ENVKIT_KEYS
    from envkit.stackfile.merge import merge_documents

    first = docs[0]
    if first.compose_files:  # a Compose file first: every file is read as Compose
        for doc in docs[1:]:
            keys = [k for k in ENVKIT_KEYS if k in doc.data]
            if keys:
                raise StackError.single(
                    "dialect-mismatch",
                    f"'{keys[0]}' makes {doc.display} an envkit stack file, but it is merged "
                    f"onto the Compose file {first.display}",
                    path=(keys[0],),
                    origin=doc.key_origin((keys[0],)),
                    hint="list the envkit stack file first (-f envkit.yaml -f ...), or keep "
                    "the Compose file as it is and 'include:' it from an envkit.yaml",
                )
        docs = [replace(doc, compose_files=frozenset({doc.display})) for doc in docs]
    else:  # an envkit stack file first: the files merged onto it are envkit's too
        docs = [replace(doc, compose_files=frozenset()) for doc in docs]
    return merge_documents(docs)


def environments(doc: Document) -> list[str]:
    """The environment names of a stack; ``["default"]`` when it has no ``environments:``."""
    from envkit.stackfile.dialect import environments_of

    return [str(name) for name in environments_of(doc.data)]


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
    profiles: Sequence[str] = (),
    env_files: Sequence[str] = (),
) -> Resolved:
    """Render one environment and build its desired state, or raise StackError.
    ``profiles`` are the active Compose profiles named on the command line; ``env_files``
    replace the Compose project's ``.env`` (``--env-file``)."""
    from envkit.stackfile import checks, schema
    from envkit.stackfile.normalize import to_desired

    rendered = render(
        doc,
        environment,
        cli_vars=cli_vars,
        environ=environ,
        instance=instance,
        profiles=profiles,
        env_files=env_files,
    )
    problems: list[Diagnostic] = schema.validate_tree(rendered.tree, rendered)
    if not problems:
        problems = checks.check_services(rendered.tree, rendered)
    if problems:
        # These checks quote rendered values, which may hold secrets: mask them here, at
        # the one place that knows both the messages and the sensitive values.
        secrets = rendered.sensitive_values
        raise StackError([_redacted(d, secrets) for d in problems])
    from envkit.stackfile.enginesetting import engine_setting

    desired = _as_instance(doc, rendered, to_desired(rendered))
    desired = replace(desired, engine=engine_setting(doc, environment))
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
    if desired.instance:
        problems.extend(_fixed_addresses(desired, rendered))
        problems.extend(_fixed_names(desired, rendered))
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


def _fixed_addresses(desired: DesiredState, rendered: Rendered) -> list[Diagnostic]:
    """Under ``--instance``: a network with a fixed subnet (and so a fixed ipv4_address)
    cannot be made twice on one engine, as every instance would need it."""
    out: list[Diagnostic] = []
    for net in desired.networks:
        if net.external or not any(subnet for subnet, _, _ in net.ipam_config):
            continue
        path: tuple[str, ...] = ("networks", net.name, "ipam")
        out.append(
            Diagnostic(
                "fixed-subnet",
                f"instance {desired.instance!r}: network {net.name} has a fixed subnet, and "
                f"every instance of {desired.stack}-{desired.environment} would need the same one",
                path,
                rendered.origin(path),
                "leave the subnet (and ipv4_address) out so that the engine picks one per "
                "instance, or run this environment without --instance/--ephemeral",
            )
        )
    return out


def _fixed_names(desired: DesiredState, rendered: Rendered) -> list[Diagnostic]:
    """Under ``--instance``/``--ephemeral``: a ``container_name`` would be taken by the
    first instance, and every other one would collide with it."""
    out: list[Diagnostic] = []
    for svc in desired.services:
        if svc.container_name:
            path: tuple[str, ...] = ("services", svc.name, "container_name")
            out.append(
                Diagnostic(
                    "container-name-instance",
                    f"instance {desired.instance!r}: service {svc.name} has the fixed "
                    f"container_name {svc.container_name!r}, which every instance of "
                    f"{desired.stack}-{desired.environment} would need",
                    path,
                    rendered.origin(path),
                    "drop container_name for this environment (environments.ENV.services."
                    f"{svc.name}.container_name: null), or run it without --instance/--ephemeral",
                )
            )
    return out

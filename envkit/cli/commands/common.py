"""What several commands share: finding the stack file, resolving an environment."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from envkit.errors import StackError
from envkit.stackfile.pipeline import (
    DEFAULT_FILE,
    DEFAULT_FILES,
    Resolved,
    find_stack_files,
    read,
    resolve,
)

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import Engine
    from envkit.model import DesiredState
    from envkit.stackfile.document import Document


def stack_files(args: argparse.Namespace) -> list[str]:
    """The stack file(s): every ``-f``, else ``$ENVKIT_FILE``, else the default lookup in the
    current directory (``envkit.stackfile.pipeline.find_stack_files``; ``--debug`` says
    which files it found). With nothing found, ``[envkit.yaml]``, which reads as missing."""
    if args.file:
        return [str(f) for f in args.file]
    if os.environ.get("ENVKIT_FILE"):
        return [os.environ["ENVKIT_FILE"]]
    found = find_stack_files(".")
    log = getattr(args, "debug_log", None)
    if log is not None:
        shown = " + ".join(found) if found else "none of " + ", ".join(DEFAULT_FILES)
        log(f"debug: stack file (default lookup in {os.getcwd()}): {shown}")
    return found or [DEFAULT_FILE]


def stack_path(args: argparse.Namespace) -> str:
    """The stack file(s) as shown to the user (``a.yaml + b.yaml`` when merged)."""
    return " + ".join(stack_files(args))


def read_stack(args: argparse.Namespace) -> Document:
    return read(stack_files(args), env_files=getattr(args, "env_file", None) or ())


def only_environment(doc: Document, command: str) -> str:
    """The environment to use when none is named: the stack's only one (a Compose file's
    implicit ``default``), else a usage error listing them."""
    from envkit.errors import UsageError
    from envkit.stackfile.pipeline import environments

    names = environments(doc)
    if len(names) == 1:
        return names[0]
    listed = ", ".join(names) if names else "none"
    raise UsageError(
        f"no environment given, and the stack has {len(names)}: {listed}",
        hint=f"e.g. 'envkit {command} {names[0]}'" if names else "add 'environments:'",
    )


def instance_id(args: argparse.Namespace) -> str | None:
    from envkit.stackfile.instances import check_instance_id

    value: str | None = getattr(args, "instance", None)
    return None if value is None else check_instance_id(value, what="--instance")


def resolve_env(
    args: argparse.Namespace, console: Console, doc: Document | None = None
) -> Resolved:
    instance = instance_id(args)
    doc = doc if doc is not None else read_stack(args)
    if args.env is not None and isinstance(getattr(args, "services", None), list):
        # `envkit up web` on a stack with one environment: web is a service, not ENV.
        from envkit.stackfile.pipeline import environments

        names = environments(doc)
        services = doc.data.get("services")
        if (
            args.env not in names
            and len(names) == 1
            and isinstance(services, dict)
            and args.env in services
        ):
            args.services, args.env = [args.env, *args.services], names[0]
    if args.env is None:
        args.env = only_environment(doc, args.command)
    resolved = resolve(
        doc,
        args.env,
        cli_vars=dict(getattr(args, "var", None) or []),
        instance=instance,
        profiles=getattr(args, "profile", None) or (),
        env_files=getattr(args, "env_file", None) or (),
    )
    console.secrets.update(resolved.desired.sensitive_values)
    for warning in resolved.rendered.warnings:
        console.err(warning.render("warning"))
    if getattr(args, "strict", False):
        from envkit.stackfile.hostaccess import strict_diagnostics

        problems = strict_diagnostics(resolved.desired, resolved.rendered.origin)
        if problems:
            raise StackError(problems)
    return resolved


def engine(desired: DesiredState | None = None, *, address: str | None = None) -> Engine:
    """The engine ``desired``'s environment lives on (its ``engine:`` setting), or the one
    ``--engine ADDRESS|CONTEXT`` names, else DOCKER_HOST / the local socket."""
    from envkit.engine.factory import engine_from_env

    if address:
        return engine_from_env(endpoint=address)
    if desired is not None and desired.engine is not None:
        return engine_from_env(endpoint=desired.engine)
    return engine_from_env()

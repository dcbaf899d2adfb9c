"""What several commands share: finding the stack file, resolving an environment."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from envkit.errors import StackError
from envkit.stackfile.pipeline import DEFAULT_FILE, Resolved, read, resolve

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import Engine
    from envkit.model import DesiredState
    from envkit.stackfile.document import Document


def stack_path(args: argparse.Namespace) -> str:
    return str(args.file or os.environ.get("ENVKIT_FILE") or DEFAULT_FILE)


def read_stack(args: argparse.Namespace) -> Document:
    return read(stack_path(args))


def instance_id(args: argparse.Namespace) -> str | None:
    from envkit.stackfile.instances import check_instance_id

    value: str | None = getattr(args, "instance", None)
    return None if value is None else check_instance_id(value, what="--instance")


def resolve_env(
    args: argparse.Namespace, console: Console, doc: Document | None = None
) -> Resolved:
    instance = instance_id(args)
    doc = doc if doc is not None else read_stack(args)
    resolved = resolve(
        doc,
        args.env,
        cli_vars=dict(getattr(args, "var", None) or []),
        instance=instance,
    )
    console.secrets.update(resolved.desired.sensitive_values)
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

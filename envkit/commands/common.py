"""What several commands share: finding the stack file, resolving an environment."""

from __future__ import annotations

import argparse
import os
import re
from typing import TYPE_CHECKING

from envkit.errors import UsageError
from envkit.stack import DEFAULT_FILE, Resolved, read, resolve

if TYPE_CHECKING:
    from envkit.cli import Console
    from envkit.engine.docker import DockerEngine
    from envkit.stackfile import Document


def stack_path(args: argparse.Namespace) -> str:
    return str(args.file or os.environ.get("ENVKIT_FILE") or DEFAULT_FILE)


def read_stack(args: argparse.Namespace) -> Document:
    return read(stack_path(args))


_INSTANCE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def instance_id(args: argparse.Namespace) -> str | None:
    value: str | None = getattr(args, "instance", None)
    if value is not None and not _INSTANCE_ID.fullmatch(value):
        raise UsageError(
            f"--instance {value!r} is not a valid instance id",
            hint="use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit",
        )
    return value


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
    return resolved


def engine() -> DockerEngine:
    from envkit.engine.docker import DockerEngine

    return DockerEngine.from_env()

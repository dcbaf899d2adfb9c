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


def instance_id(args: argparse.Namespace) -> str | None:
    from envkit.instances import INSTANCE_ID

    value: str | None = getattr(args, "instance", None)
    if value is not None and not INSTANCE_ID.fullmatch(value):
        bad = next((ch for ch in value if not re.fullmatch(r"[a-z0-9_-]", ch)), None)
        if not value:
            why = " (it is empty)"
        elif bad is not None:
            why = f": {bad!r} at position {value.index(bad) + 1} is not allowed"
        elif len(value) > 63:
            why = f" ({len(value)} characters, at most 63)"
        else:
            why = f": it starts with {value[0]!r}"
        raise UsageError(
            f"--instance {value!r} is not a valid instance id{why}",
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

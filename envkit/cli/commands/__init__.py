"""The commands behind the CLI. Each takes parsed arguments and a Console and returns an
exit code; they raise EnvkitError for anything that went wrong and let ``cli.main`` map it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envkit.cli.console import Console

__all__ = ["run"]


def run(args: argparse.Namespace, console: Console) -> int:
    args.debug_log = console.err if args.debug else None
    if args.command in ("validate", "render"):
        from envkit.cli.commands import stackfile as module
    elif args.command in ("plan", "up", "down"):
        from envkit.cli.commands import reconcile as module  # type: ignore[no-redef]
    elif args.command == "env":
        from envkit.cli.commands import env as module  # type: ignore[no-redef]
    elif args.command == "gc":
        from envkit.cli.commands import gc as module  # type: ignore[no-redef]
    elif args.command == "bundle":
        from envkit.cli.commands import bundle as module  # type: ignore[no-redef]
    else:
        from envkit.cli.commands import inspect as module  # type: ignore[no-redef]
    handler = getattr(module, "cmd_" + args.command.replace("-", "_"))
    code: int = handler(args, console)
    return code

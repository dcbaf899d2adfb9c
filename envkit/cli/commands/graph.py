"""``envkit graph ENV``: the environment as a Mermaid or DOT picture, from the stack file
alone (no engine)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from envkit.cli.commands.common import resolve_env
from envkit.graph import FORMATS

if TYPE_CHECKING:
    from envkit.cli.console import Console


def cmd_graph(args: argparse.Namespace, console: Console) -> int:
    desired = resolve_env(args, console).desired
    console.out(FORMATS[args.format](desired).rstrip("\n"))
    return 0

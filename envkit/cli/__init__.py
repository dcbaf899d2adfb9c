"""The command line: ``main(argv) -> int`` (:mod:`envkit.cli.main`), one command table
(:mod:`envkit.cli.table`), the :class:`~envkit.cli.console.Console` commands write to, and
one module per command group under :mod:`envkit.cli.commands`."""

from __future__ import annotations

from envkit.cli.main import main

__all__ = ["main"]

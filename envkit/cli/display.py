"""Which progress display a command gets: the live one on a terminal, plain lines elsewhere.

The reconciler reports through :mod:`envkit.progress`'s Reporter; choosing how that is shown
is the shell's business, so rich is imported only here, only for a terminal.
"""

from __future__ import annotations

import os
from typing import TextIO

from envkit.progress import Display, LineReporter, use_color

__all__ = ["reporter_for"]


def reporter_for(
    stream: TextIO,
    secrets: frozenset[str] = frozenset(),
    *,
    summary: bool = True,
    nothing: str = "no changes",
) -> Display:
    """A live display on a terminal (unless ``TERM=dumb``), plain lines otherwise (CI
    logs, pipes). Only the live display imports rich. Use it as a context manager: leaving
    it ends the display and prints the summary (unless ``summary`` is false), which starts
    with ``nothing`` when nothing changed."""
    if stream.isatty() and os.environ.get("TERM", "dumb") != "dumb":
        from envkit.cli.live import LiveReporter

        return LiveReporter(stream, secrets, color=use_color(), summary=summary, nothing=nothing)
    return LineReporter(stream, secrets, summary=summary, nothing=nothing)

"""``envkit logs ENV [SERVICE...]``: the containers' logs, interleaved as they come when
following, each line prefixed with its container (coloured on a terminal without
NO_COLOR), like ``docker compose logs``."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import TYPE_CHECKING

from envkit.cli.commands.containers import select
from envkit.engine.base import LogOptions

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import ObservedContainer

__all__ = ["Prefixer", "cmd_logs"]

# Compose's palette order: cyan, yellow, green, magenta, blue, then the bright ones.
_COLOURS = ("36", "33", "32", "35", "34", "96", "93", "92", "95", "94")


class Prefixer:
    """``name | `` in front of each line, names padded to one width, one colour per
    container when ``colour``; nothing when ``enabled`` is false."""

    def __init__(self, names: list[str], *, enabled: bool, colour: bool) -> None:
        width = max((len(n) for n in names), default=0)
        self._prefix: dict[str, str] = {}
        for i, name in enumerate(names):
            text = f"{name.ljust(width)} | "
            if colour:
                text = f"\x1b[{_COLOURS[i % len(_COLOURS)]}m{text}\x1b[0m"
            self._prefix[name] = text if enabled else ""

    def line(self, name: str, text: str) -> str:
        return self._prefix.get(name, "") + text


def use_colour(stream: object) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (no-color.org)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def cmd_logs(args: argparse.Namespace, console: Console) -> int:
    """Exit codes follow the read commands' rule: naming something that does not run is
    ``not-running`` (1). An environment on a Swarm reads its services' logs
    (``envkit.cli.commands.swarm_read``)."""
    from envkit.cli.commands.swarm import swarm_endpoint

    if (swarm := swarm_endpoint(args)) is not None:
        from envkit.cli.commands.swarm_read import swarm_logs

        return swarm_logs(args, console, swarm)
    sel = select(args, console, args.services, index=args.index)
    containers = sel.containers
    eng = sel.engine
    options = LogOptions(
        tail=args.tail, since=args.since, until=args.until, timestamps=args.timestamps
    )
    prefix = Prefixer(
        [c.name for c in containers],
        enabled=len(containers) > 1 and not args.no_log_prefix,
        colour=use_colour(console.out_stream),
    )
    if not args.follow:
        for c in containers:
            for line in eng.logs(c.id, options=options).splitlines():
                console.out(prefix.line(c.name, line))
        return 0
    lock = threading.Lock()

    def pump(c: ObservedContainer) -> None:
        buf = b""
        for chunk in eng.follow_logs(c.id, options):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            with lock:
                for raw in lines:
                    console.out(prefix.line(c.name, raw.decode("utf-8", "replace")))
        if buf:
            with lock:
                console.out(prefix.line(c.name, buf.decode("utf-8", "replace")))

    threads = [threading.Thread(target=pump, args=(c,), daemon=True) for c in containers]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    except KeyboardInterrupt:
        # Ctrl-C is how a follow ends: nothing was being changed, so nothing to converge
        # and nothing to say. The pump threads are daemons and die with the process.
        return 130
    sys.stdout.flush()
    return 0

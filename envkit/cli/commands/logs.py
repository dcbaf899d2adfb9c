"""``envkit logs ENV [SERVICE...]``: the containers' logs, interleaved as they come when
following, each line prefixed with its container (coloured on a terminal without
NO_COLOR), like ``docker compose logs``."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from envkit.cli.commands.containers import select
from envkit.engine.base import LogOptions

T = TypeVar("T")

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import ObservedContainer
    from envkit.engine.swarm_base import ObservedService
    from envkit.reconcile.swarm_status import LogSource

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
        return _swarm_logs(args, console, swarm)
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
        for raw in _lines(eng.follow_logs(c.id, options)):
            with lock:
                console.out(prefix.line(c.name, raw.decode("utf-8", "replace")))

    return _follow(containers, pump)


def _lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The lines of a log stream, without their newline; the last one even unterminated."""
    buf = b""
    for chunk in chunks:
        buf += chunk
        *lines, buf = buf.split(b"\n")
        yield from lines
    if buf:
        yield buf


def _follow(targets: Sequence[T], pump: Callable[[T], None]) -> int:
    """``pump`` every target in a thread of its own until all streams end, or Ctrl-C."""
    threads = [threading.Thread(target=pump, args=(t,), daemon=True) for t in targets]
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


def _swarm_logs(args: argparse.Namespace, console: Console, endpoint: str) -> int:
    """The same options as on one engine, but ``--until`` (the engine's service logs have
    none); ``--index N`` keeps the lines of replica N's tasks (Swarm's slot N)."""
    from envkit.cli.commands.containers import check_services
    from envkit.cli.commands.swarm_read import nothing_runs, observe, task_names
    from envkit.errors import EnvkitError, UsageError
    from envkit.reconcile.plan import dependency_order
    from envkit.reconcile.swarm_status import incomplete_logs, log_sources, split_details

    if args.until is not None:
        raise UsageError(
            "--until is not available on a Swarm: the engine's service logs have no end time",
            hint="use --since and --tail to choose the lines",
        )
    desired, eng, observed = observe(args, console, endpoint)
    try:
        check_services(desired, args.services)
        order = {s.name: i for i, s in enumerate(dependency_order(desired.services))}
        chosen = sorted(
            (s for s in observed.services if not args.services or s.service in args.services),
            key=lambda s: (order.get(s.service, len(order)), s.service),
        )
        if not chosen:
            what = f"service {', '.join(args.services)} of " if args.services else ""
            raise nothing_runs(args, what + desired.project)
        names = task_names(chosen)
        if args.index is not None:
            names = {t.id: names[t.id] for s in chosen for t in s.tasks if t.slot == args.index}
            if not names:
                raise EnvkitError(
                    f"no task of {desired.project} has replica {args.index}",
                    code="not-running",
                    hint="list the tasks and their replicas with 'envkit ps " + args.env + "'",
                )
        shown = sorted(set(names.values()))
        prefix = Prefixer(
            shown,
            enabled=len(shown) > 1 and not args.no_log_prefix,
            colour=use_colour(console.out_stream),
        )
        options = LogOptions(tail=args.tail, since=args.since, timestamps=args.timestamps)
        lock = threading.Lock()

        def emit(service: ObservedService, raw: bytes) -> None:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            task, text = split_details(line, timestamps=args.timestamps)
            if args.index is not None and task not in names:
                return
            name = names.get(task) or f"{service.service}.{task[:12] or '?'}"
            with lock:
                console.out(prefix.line(name, text))

        sources, unread = log_sources(chosen)
        if args.index is not None:
            sources = [x for x in sources if x.kind == "service" or x.id in names]
            unread = [t for t in unread if t.id in names]
        said: list[str] = []

        def engine_said(message: str) -> None:
            # Following, say it at once (the stream goes on); otherwise after the lines.
            with lock:
                if message not in said:
                    said.append(message)
                    if args.follow:
                        console.err(f"warning: {message}")

        def pump(source: LogSource) -> None:
            chunks = eng.read_logs(
                source.kind, source.id, options, follow=args.follow, engine_said=engine_said
            )
            for raw in _lines(chunks):
                emit(source.service, raw)

        unread_names = [names.get(t.id, t.id[:12]) for t in unread]
        if args.follow:
            for name in unread_names:
                console.err(f"warning: the logs of {name} cannot be read: its node is down")
            return _follow(sources, pump)
        for source in sources:
            pump(source)
        if said or unread_names:
            raise incomplete_logs(said, unread_names)
        return 0
    finally:
        eng.close()

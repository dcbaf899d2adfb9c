"""``envkit ps ENV`` and ``envkit logs ENV [SERVICE...]`` for an environment on a Swarm
(``environments.E.engine: {swarm: MANAGER}``): services with their desired and running
replicas, tasks (node, state, error) and published ports; service logs read through the
manager (``/services/{id}/logs``), each line prefixed with its task (``web.2@node``)."""

from __future__ import annotations

import argparse
import sys
import threading
from typing import TYPE_CHECKING

from envkit.cli.commands.common import resolve_env
from envkit.cli.commands.containers import check_services
from envkit.errors import EnvkitError, UsageError

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.swarm import SwarmEngine
    from envkit.engine.swarm_base import ObservedService, ObservedSwarm
    from envkit.model import DesiredState

__all__ = ["swarm_logs", "swarm_ps"]


def _observe(
    args: argparse.Namespace, console: Console, endpoint: str
) -> tuple[DesiredState, SwarmEngine, ObservedSwarm]:
    from envkit.engine.swarm import SwarmEngine

    desired = resolve_env(args, console).desired
    eng = SwarmEngine(endpoint)
    try:
        observed = eng.observe_swarm(desired.project)
    except BaseException:
        eng.close()
        raise
    return desired, eng, observed


def _nothing_runs(args: argparse.Namespace, what: str) -> EnvkitError:
    return EnvkitError(
        f"nothing of {what} runs on the Swarm",
        code="not-running",
        hint=f"run 'envkit up {args.env}' first",
    )


def swarm_ps(args: argparse.Namespace, console: Console, endpoint: str) -> int:
    """Exit 1 (``not-running``) when the stack has no service, like ``ps ENV`` on one
    engine."""
    from envkit.cli.commands.stackfile import table
    from envkit.reconcile.swarm_status import service_rows, swarm_status_json, task_rows

    desired, eng, observed = _observe(args, console, endpoint)
    eng.close()
    if not observed.services:
        raise _nothing_runs(args, desired.project)
    if args.json:
        console.out_json(swarm_status_json(observed, desired.instance))
        return 0
    console.out(table(service_rows(observed)))
    console.out("")
    console.out(table(task_rows(observed)))
    if observed.nodes_down:
        console.err(f"warning: node(s) not ready: {', '.join(observed.nodes_down)}")
    return 0


def _task_names(services: list[ObservedService]) -> dict[str, str]:
    """Task id -> ``service.slot@node`` (``service.taskid@node`` for a global service)."""
    names: dict[str, str] = {}
    for s in services:
        for t in s.tasks:
            replica = str(t.slot) if t.slot is not None else t.id[:12]
            names[t.id] = f"{s.service or s.name}.{replica}@{t.node or '?'}"
    return names


def swarm_logs(args: argparse.Namespace, console: Console, endpoint: str) -> int:
    """The same options as on one engine, but ``--until`` (the engine's service logs have
    none); ``--index N`` keeps the lines of replica N's tasks (Swarm's slot N)."""
    from envkit.cli.commands.logs import Prefixer, use_colour
    from envkit.engine.base import LogOptions
    from envkit.reconcile.plan import dependency_order
    from envkit.reconcile.swarm_status import split_details

    if args.until is not None:
        raise UsageError(
            "--until is not available on a Swarm: the engine's service logs have no end time",
            hint="use --since and --tail to choose the lines",
        )
    desired, eng, observed = _observe(args, console, endpoint)
    try:
        check_services(desired, args.services)
        order = {s.name: i for i, s in enumerate(dependency_order(desired.services))}
        chosen = sorted(
            (s for s in observed.services if not args.services or s.service in args.services),
            key=lambda s: (order.get(s.service, len(order)), s.service),
        )
        if not chosen:
            what = f"service {', '.join(args.services)} of " if args.services else ""
            raise _nothing_runs(args, what + desired.project)
        names = _task_names(chosen)
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

        def pump(service: ObservedService) -> None:
            buf = b""
            for chunk in eng.service_logs(service.id, options, follow=args.follow):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for raw in lines:
                    emit(service, raw)
            if buf:
                emit(service, buf)

        if not args.follow:
            for s in chosen:
                pump(s)
            return 0
        threads = [threading.Thread(target=pump, args=(s,), daemon=True) for s in chosen]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.5)
        except KeyboardInterrupt:
            return 130  # how a follow ends; the pump threads are daemons
        sys.stdout.flush()
        return 0
    finally:
        eng.close()

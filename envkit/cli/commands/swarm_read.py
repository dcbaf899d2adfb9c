"""``envkit ps ENV`` for an environment on a Swarm (``environments.E.engine: {swarm:
MANAGER}``): services with their desired and running replicas, tasks (node, state, error) and
published ports; and what ``envkit logs`` (``envkit.cli.commands.logs``) shares with it."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from envkit.cli.commands.common import resolve_env
from envkit.errors import EnvkitError

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.swarm import SwarmEngine
    from envkit.engine.swarm_base import ObservedService, ObservedSwarm
    from envkit.model import DesiredState

__all__ = ["nothing_runs", "observe", "status_document", "swarm_ps", "task_names"]


def observe(
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


def nothing_runs(args: argparse.Namespace, what: str) -> EnvkitError:
    return EnvkitError(
        f"nothing of {what} runs on the Swarm",
        code="not-running",
        hint=f"run 'envkit up {args.env}' first",
    )


def status_document(eng: SwarmEngine, project: str, instance: str | None) -> dict[str, Any]:
    """The status document of ``ps ENV --json`` / ``up --json``, ``expires`` the lease's."""
    from envkit.reconcile.expiry import format_time
    from envkit.reconcile.swarm_gc import lease_expiry
    from envkit.reconcile.swarm_status import swarm_status_json

    observed = eng.observe_swarm(project)
    expiry = lease_expiry(observed)
    return swarm_status_json(
        observed, instance, format_time(expiry) if expiry is not None else None
    )


def swarm_ps(args: argparse.Namespace, console: Console, endpoint: str) -> int:
    """Exit 1 (``not-running``) when the stack has no service, like ``ps ENV`` on one
    engine."""
    from envkit.cli.commands.stackfile import table
    from envkit.reconcile.swarm_status import service_rows, swarm_status_json, task_rows

    desired, eng, observed = observe(args, console, endpoint)
    eng.close()
    if not observed.services:
        raise nothing_runs(args, desired.project)
    from envkit.reconcile.expiry import format_time
    from envkit.reconcile.swarm_gc import lease_expiry

    expiry = lease_expiry(observed)
    expires = format_time(expiry) if expiry is not None else None
    if args.json:
        console.out_json(swarm_status_json(observed, desired.instance, expires))
        return 0
    console.out(table(service_rows(observed)))
    console.out("")
    console.out(table(task_rows(observed)))
    if expires is not None:
        console.out(f"\nexpires {expires} (envkit gc --swarm MANAGER removes it then)")
    if observed.nodes_down:
        console.err(f"warning: node(s) not ready: {', '.join(observed.nodes_down)}")
    return 0


def task_names(services: list[ObservedService]) -> dict[str, str]:
    """Task id -> ``service.slot@node`` (``service.taskid@node`` for a global service)."""
    names: dict[str, str] = {}
    for s in services:
        for t in s.tasks:
            replica = str(t.slot) if t.slot is not None else t.id[:12]
            names[t.id] = f"{s.service or s.name}.{replica}@{t.node or '?'}"
    return names

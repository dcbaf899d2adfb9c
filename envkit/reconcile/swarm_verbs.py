"""The Swarm verbs (plan, up, down) under the instance lock keyed by the cluster's identity,
shared by the CLI and tests. Neither prints: text goes to ``report``."""

from __future__ import annotations

from collections.abc import Callable

from envkit.engine.swarm_base import ServiceOrchestrator
from envkit.reconcile.lock import instance_lock
from envkit.reconcile.swarm_apply import swarm_down, swarm_up
from envkit.reconcile.swarm_images import pinned
from envkit.reconcile.swarm_plan import SwarmPlan, swarm_plan
from envkit.swarm_model import SwarmStack

__all__ = ["down", "plan", "up"]

Report = Callable[[str], None]


def plan(
    engine: ServiceOrchestrator, stack: SwarmStack, *, report: Report = lambda _: None
) -> SwarmPlan:
    """The plan with the images pinned by digest as ``up`` would send them."""
    observed = engine.observe_swarm(stack.project)
    pins = pinned(engine.image_digests, stack, observed)
    for note in pins.notes:
        report(f"note: {note}")
    return swarm_plan(pins.stack, observed)


def up(
    engine: ServiceOrchestrator,
    stack: SwarmStack,
    *,
    engine_id: str,
    timeout_s: float = 300.0,
    lock_timeout_s: float = 600.0,
    report: Report = lambda _: None,
    object_ids: Callable[[], dict[str, str]] | None = None,
    expires: str | None = None,
) -> SwarmPlan:
    """``expires`` (RFC 3339): the stack's new lease, for ``envkit gc --swarm``
    (``envkit.reconcile.swarm_gc``); None keeps the lease it has, if any."""
    with instance_lock(
        stack.project, engine_id=engine_id, timeout_s=lock_timeout_s, on_wait=report
    ):
        done = swarm_up(engine, stack, timeout=timeout_s, report=report, object_ids=object_ids)
        if expires is not None:
            from envkit.model import LABEL
            from envkit.reconcile.swarm_gc import write_lease

            d = stack.desired
            labels = {LABEL.STACK: d.stack, LABEL.ENV: d.environment}
            if d.instance:
                labels[LABEL.INSTANCE] = d.instance
            write_lease(engine, engine.observe_swarm(stack.project), labels, expires)
        return done


def down(
    engine: ServiceOrchestrator,
    project: str,
    *,
    engine_id: str,
    timeout_s: float = 120.0,
    lock_timeout_s: float = 600.0,
    report: Report = lambda _: None,
) -> int:
    with instance_lock(project, engine_id=engine_id, timeout_s=lock_timeout_s, on_wait=report):
        return swarm_down(engine, project, timeout=timeout_s)

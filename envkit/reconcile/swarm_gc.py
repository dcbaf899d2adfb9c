"""Expiry of Swarm stacks: ``envkit up ENV --ttl D`` on a Swarm environment leaves a lease,
and ``envkit gc --swarm MANAGER`` (``envkit.gc(swarm=MANAGER)``) removes every stack whose
lease expired.

The lease is a Swarm config ``{project}_envkit-lease-{digest}`` labelled
``io.envkit.state=lease`` and ``io.envkit.expires=RFC 3339`` (with the stack, environment and
instance labels); an ``up --ttl`` replaces it (extends or shortens), an ``up`` without one
keeps it, and ``down`` removes it with the stack's other objects. A stack without a lease
never expires.

:func:`collect_swarm_garbage` reads the leases, and for each expired one takes the stack's
instance lock (keyed by the cluster), reads the lease again (an ``up --ttl`` may have
extended it meanwhile: then it is skipped, ``renewed``) and takes the stack down as
``envkit down`` does. Outcomes are :mod:`envkit.reconcile.gc`'s, so ``envkit gc`` words them
the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from envkit.engine.swarm_base import ObservedSwarm, ObservedSwarmObject, ServiceOrchestrator
from envkit.errors import EnvkitError, LockTimeout
from envkit.model import LABEL
from envkit.reconcile.expiry import Candidate, Reason, parse_time
from envkit.reconcile.gc import Failed, GcResult, Outcome, Reaped, Skipped, SkipReason
from envkit.reconcile.lock import instance_lock
from envkit.reconcile.teardown import DownResult

__all__ = [
    "LEASE",
    "SwarmCandidate",
    "SwarmDownResult",
    "collect_swarm_garbage",
    "lease_expiry",
    "write_lease",
]

STATE = "io.envkit.state"
LEASE = "lease"  # the value of io.envkit.state on a lease (observed as kind "lease")


@dataclass(frozen=True, slots=True)
class SwarmDownResult(DownResult):
    """What taking a Swarm stack down removed: its services (engine names) and its networks,
    secrets and configs. ``containers`` and ``volumes`` stay empty: Swarm removes the tasks'
    containers, and named volumes stay on the nodes."""

    services: tuple[str, ...] = ()
    secrets: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()


def down_result(observed: ObservedSwarm) -> SwarmDownResult:
    """What removing the stack ``observed`` takes away (the lease and rollback record are
    envkit's own bookkeeping: not listed)."""

    def named(kind: str) -> tuple[str, ...]:
        return tuple(sorted(o.name for o in observed.objects if o.kind == kind))

    return SwarmDownResult(
        observed.project,
        networks=named("network"),
        services=tuple(sorted(s.name for s in observed.services)),
        secrets=named("secret"),
        configs=named("config"),
    )


@dataclass(frozen=True, slots=True)
class SwarmCandidate(Candidate):
    """An expired Swarm stack; its labels are its lease's."""

    lease_labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def labels(self) -> Mapping[str, str]:
        return self.lease_labels


def lease_expiry(observed: ObservedSwarm) -> datetime | None:
    """When the stack's lease expires (None: no lease, it never expires)."""
    times = [
        parse_time(o.labels.get(LABEL.EXPIRES, "")) for o in observed.objects if o.kind == LEASE
    ]
    found = [t for t in times if t is not None]
    return max(found) if found else None


def write_lease(
    engine: ServiceOrchestrator, observed: ObservedSwarm, labels: Mapping[str, str], expires: str
) -> None:
    """Make ``expires`` the stack's lease (``labels``: its project, stack, env, instance),
    replacing an older lease. Call under the stack's lock, after up."""
    project = observed.project
    name = f"{project}_envkit-lease-{hashlib.sha256(expires.encode()).hexdigest()[:12]}"
    old = [o for o in observed.objects if o.kind == LEASE]
    if not any(o.name == name for o in old):
        lease = {**labels, LABEL.PROJECT: project, STATE: LEASE, LABEL.EXPIRES: expires}
        engine.create_object("config", name, expires.encode(), lease)
    for o in old:
        if o.name != name:
            engine.remove_object(LEASE, o.id)


def _candidates(leases: list[ObservedSwarmObject], now: datetime) -> list[SwarmCandidate]:
    by_project: dict[str, tuple[datetime, ObservedSwarmObject]] = {}
    for o in leases:
        project = o.labels.get(LABEL.PROJECT, "")
        moment = parse_time(o.labels.get(LABEL.EXPIRES, ""))
        if not project or moment is None:
            continue
        if project not in by_project or moment > by_project[project][0]:
            by_project[project] = (moment, o)
    return [
        SwarmCandidate(project, Reason.EXPIRED, moment, None, (), lease_labels=dict(o.labels))
        for project, (moment, o) in sorted(by_project.items())
        if moment <= now
    ]


def collect_swarm_garbage(
    engine: ServiceOrchestrator,
    leases: Callable[[], list[ObservedSwarmObject]],
    *,
    engine_id: str,
    dry_run: bool = False,
    lock_timeout_s: float = 10.0,
    timeout_s: float = 120.0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    on_outcome: Callable[[Outcome], None] | None = None,
) -> GcResult:
    """Take down every stack on the Swarm whose lease expired (``leases``: every lease on
    the manager). ``dry_run``: only say what would go."""
    from envkit.reconcile.swarm_apply import swarm_down

    now = clock()
    outcomes: list[Outcome] = []
    for cand in _candidates(leases(), now):
        outcome: Outcome
        if dry_run:
            outcome = Reaped(cand, down_result(engine.observe_swarm(cand.project)))
        else:
            gone = DownResult(cand.project)
            try:
                with instance_lock(cand.project, engine_id=engine_id, timeout_s=lock_timeout_s):
                    observed = engine.observe_swarm(cand.project)
                    expiry = lease_expiry(observed)
                    if expiry is None or expiry > clock():
                        outcome = Skipped(cand, SkipReason.RENEWED)
                    else:
                        gone = down_result(observed)
                        swarm_down(engine, cand.project, timeout=timeout_s)
                        outcome = Reaped(cand, gone)
            except LockTimeout:
                outcome = Skipped(cand, SkipReason.LOCKED)
            except EnvkitError as exc:
                outcome = Failed(cand, exc, DownResult(cand.project))
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)
    return GcResult.of(now, dry_run, outcomes)


def collect_on_manager(
    manager: str,
    *,
    dry_run: bool = False,
    lock_timeout_s: float = 10.0,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> GcResult:
    """:func:`collect_swarm_garbage` through the manager at ``manager`` (an engine address):
    ``envkit gc --swarm MANAGER`` and ``envkit.gc(swarm=MANAGER)``."""
    from envkit.engine.swarm import SwarmEngine

    engine = SwarmEngine(manager)
    try:
        return collect_swarm_garbage(
            engine,
            engine.list_leases,
            engine_id=engine.identity,
            dry_run=dry_run,
            lock_timeout_s=lock_timeout_s,
            on_outcome=on_outcome,
        )
    finally:
        engine.close()

"""gc: remove expired instances, across every stack on the engine, as data.

What is expired is decided by :func:`envkit.reconcile.expiry.reapable` (pure) from every
object that carries ``io.envkit.project``; nothing else on the engine is ever looked at.
Each instance is then removed completely (containers, network, volumes and lease, like
``down --volumes``) under its instance lock, after reading it again: an ``up --ttl`` that
extended it meanwhile wins, and an instance some envkit is working on right now is skipped
(``lock_timeout_s``) and left for the next gc. A Swarm stack's objects seen on one of its
nodes (its tasks' containers, its overlay networks) are never removed: the stack is skipped
(``swarm``), since Swarm would start the tasks again; ``envkit down ENV`` removes it
through its manager (Swarm environments take no ``--ttl``).

:func:`collect_garbage` returns one outcome per instance — :class:`Reaped`,
:class:`Skipped` or :class:`Failed` — and never prints; ``envkit gc``, the Python API
(``envkit.gc``) and the pytest plugin word them. A failed removal still says what it
removed before it failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Protocol

from envkit.engine.base import ContainerRuntime, Inventory
from envkit.errors import EnvkitError, LockTimeout
from envkit.model import LABEL, ResourceKind
from envkit.progress import NullReporter, Reporter
from envkit.reconcile.expiry import Candidate, EnvkitObject, parse_time, reapable
from envkit.reconcile.lock import instance_lock
from envkit.reconcile.teardown import DownResult, remove_instance

__all__ = [
    "Failed",
    "GcEngine",
    "GcResult",
    "Reaped",
    "SkipReason",
    "Skipped",
    "collect_garbage",
    "observe_all",
    "observe_volumes",
]


class GcEngine(ContainerRuntime, Inventory, Protocol):
    """What gc needs: the inventory to find instances, the runtime to remove them."""


class SkipReason(Enum):
    RENEWED = "renewed"  # an `up --ttl` extended it since gc listed it
    LOCKED = "locked"  # another envkit held its lock for lock_timeout_s
    SWARM = "swarm"  # a Swarm stack: its tasks' containers and overlay networks are Swarm's


@dataclass(frozen=True, slots=True)
class Reaped:
    """An instance gc removed (or, on a dry run, would remove): ``removed`` names what."""

    candidate: Candidate
    removed: DownResult

    @property
    def project(self) -> str:
        return self.candidate.project


@dataclass(frozen=True, slots=True)
class Skipped:
    candidate: Candidate
    reason: SkipReason

    @property
    def project(self) -> str:
        return self.candidate.project


@dataclass(frozen=True, slots=True)
class Failed:
    """An instance gc could not remove completely: ``removed`` is what went before the
    failure, ``error`` says why the rest did not."""

    candidate: Candidate
    error: EnvkitError
    removed: DownResult

    @property
    def project(self) -> str:
        return self.candidate.project


Outcome = Reaped | Skipped | Failed


@dataclass(frozen=True, slots=True)
class GcResult:
    now: datetime
    dry_run: bool
    reaped: tuple[Reaped, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    failed: tuple[Failed, ...] = ()
    outcomes: tuple[Outcome, ...] = field(default=(), repr=False)  # in the order gc went

    @classmethod
    def of(cls, now: datetime, dry_run: bool, outcomes: list[Outcome]) -> GcResult:
        """The result of a gc run that had these ``outcomes``, in order."""
        return cls(
            now,
            dry_run,
            tuple(o for o in outcomes if isinstance(o, Reaped)),
            tuple(o for o in outcomes if isinstance(o, Skipped)),
            tuple(o for o in outcomes if isinstance(o, Failed)),
            tuple(outcomes),
        )


def observe_volumes(engine: Inventory, selector: dict[str, str | None]) -> list[EnvkitObject]:
    """The envkit volumes ``selector`` picks (leases among them), as gc and ps see them."""
    return [
        EnvkitObject(ResourceKind.VOLUME, v.name, v.labels, parse_time(v.created))
        for v in engine.list_volumes(selector)
    ]


def observe_all(engine: Inventory, project: str | None = None) -> list[EnvkitObject]:
    """Every container, network and volume carrying ``io.envkit.project`` (= ``project``)."""
    return _observe(engine, project)[0]


SWARM_TASK_LABEL = "com.docker.swarm.service.id"  # on every Swarm task's container


def _observe(
    engine: Inventory, project: str | None = None
) -> tuple[list[EnvkitObject], frozenset[str]]:
    """:func:`observe_all`, and the projects among them that are Swarm stacks (a task's
    container, or a swarm-scoped network): removing their objects from one engine would
    fight the Swarm, which starts the tasks again."""
    selector: dict[str, str | None] = {LABEL.PROJECT: project}
    containers = engine.list_containers(selector)
    networks = engine.list_networks(selector)
    swarm = {c.labels.get(LABEL.PROJECT, "") for c in containers if SWARM_TASK_LABEL in c.labels}
    swarm |= {n.labels.get(LABEL.PROJECT, "") for n in networks if n.scope == "swarm"}
    objects = [
        EnvkitObject(ResourceKind.CONTAINER, c.name, c.labels, parse_time(c.created))
        for c in containers
    ]
    objects += [
        EnvkitObject(ResourceKind.NETWORK, n.name, n.labels, parse_time(n.created))
        for n in networks
    ]
    return objects + observe_volumes(engine, selector), frozenset(swarm - {""})


def _listed(c: Candidate) -> DownResult:
    """What removing ``c`` would take away, as gc found it."""

    def names(kind: ResourceKind) -> tuple[str, ...]:
        return tuple(sorted(o.name for o in c.objects if o.kind is kind))

    return DownResult(
        c.project,
        names(ResourceKind.CONTAINER),
        names(ResourceKind.NETWORK),
        names(ResourceKind.VOLUME),
    )


def collect_garbage(
    engine: GcEngine,
    *,
    older_than_s: float | None = None,
    include_unexpiring: bool = False,
    dry_run: bool = False,
    lock_timeout_s: float = 10.0,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    reporter: Reporter | None = None,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> GcResult:
    """Remove every expired instance on ``engine`` (with ``older_than_s``: also those
    created longer ago; with ``include_unexpiring`` as well: those without an expiry).
    ``dry_run``: only say what would go. ``on_outcome`` hears of each instance as it is
    done. ``clock``: what time it is, asked when listing and again under each lock.
    Raises only when the engine cannot be listed; an instance that fails to go is a
    :class:`Failed` outcome."""
    reporter = reporter or NullReporter()
    now = clock()
    outcomes: list[Outcome] = []

    def done(outcome: Outcome) -> None:
        outcomes.append(outcome)
        if on_outcome is not None:
            on_outcome(outcome)

    objects, swarm = _observe(engine)
    candidates = reapable(
        objects,
        now,
        older_than_s=older_than_s,
        include_unexpiring=include_unexpiring,
    )
    for cand in candidates:
        if cand.project in swarm:  # a Swarm stack's: `envkit down ENV` through its manager
            done(Skipped(cand, SkipReason.SWARM))
            continue
        if dry_run:
            done(Reaped(cand, _listed(cand)))
            continue
        done(_reap(engine, cand, clock, older_than_s, include_unexpiring, lock_timeout_s, reporter))
    return GcResult.of(now, dry_run, outcomes)


def _reap(
    engine: GcEngine,
    cand: Candidate,
    clock: Callable[[], datetime],
    older_than_s: float | None,
    include_unexpiring: bool,
    lock_timeout_s: float,
    reporter: Reporter,
) -> Outcome:
    gone: dict[ResourceKind, list[str]] = {kind: [] for kind in ResourceKind}

    def removed() -> DownResult:
        return DownResult(
            cand.project,
            tuple(sorted(gone[ResourceKind.CONTAINER])),
            tuple(sorted(gone[ResourceKind.NETWORK])),
            tuple(sorted(gone[ResourceKind.VOLUME])),
        )

    try:
        with instance_lock(cand.project, engine_id=engine.identity, timeout_s=lock_timeout_s):
            # Read it again under the lock: an `up --ttl` may have extended it.
            again = reapable(
                observe_all(engine, cand.project),
                clock(),
                older_than_s=older_than_s,
                include_unexpiring=include_unexpiring,
            )
            if not again:
                return Skipped(cand, SkipReason.RENEWED)
            cand = again[0]
            remove_instance(
                cand.project,
                engine,
                volumes=True,
                reporter=reporter,
                on_removed=lambda kind, name: gone[kind].append(name),
            )
    except LockTimeout:
        return Skipped(cand, SkipReason.LOCKED)
    except EnvkitError as exc:
        return Failed(cand, exc, removed())
    except ValueError as exc:  # a project label that is no envkit project name
        error = EnvkitError(str(exc), code="gc-failed")
        return Failed(cand, error, removed())
    return Reaped(cand, removed())

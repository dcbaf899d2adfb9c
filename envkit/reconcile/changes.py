"""What a plan is made of: each engine object's :class:`Change` (with the field-level
:class:`~envkit.reconcile.spec_diff.FieldDiff` records of a recreate), the
:class:`Conflict` records that make a plan impossible to apply, and the :class:`Plan` that
``envkit.reconcile.plan.plan`` computes, ``present`` prints and ``apply`` carries out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from envkit.engine.base import ObservedContainer
from envkit.model import DesiredState, ResourceKind, ServiceSpec
from envkit.reconcile.initenv import PlanWarning
from envkit.reconcile.spec_diff import FieldDiff

__all__ = ["Action", "Change", "Conflict", "Plan", "PlanWarning", "Summary"]


class Action(Enum):
    CREATE = "+"
    RECREATE = "-/+"
    START = ">"
    REMOVE = "-"
    NOOP = "="


@dataclass(frozen=True, slots=True)
class Change:
    kind: ResourceKind
    name: str  # engine object name: container, network or volume name
    action: Action
    service: str | None = None  # containers only
    replica: int | None = None  # containers only
    before: ObservedContainer | None = None
    after: ServiceSpec | None = None
    reasons: tuple[str, ...] = ()  # for people; apply never branches on them
    volume: str | None = None  # volumes only: the stack-level name
    # RECREATE only: the changed fields (before -> after), secrets masked; for people too.
    diffs: tuple[FieldDiff, ...] = ()
    network: str | None = None  # networks only: the stack-level name
    # Recreates: the old container's anonymous volumes the new one mounts, (target, name)
    # (envkit.reconcile.anonymous).
    carried: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Conflict:
    """Something that makes the plan impossible to apply; found before apply touches anything."""

    code: str  # kebab-case: port-in-use, name-taken, image-missing, volume-missing
    message: str
    hint: str | None = None
    service: str | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    create: int = 0
    recreate: int = 0
    start: int = 0
    remove: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    desired: DesiredState
    changes: tuple[Change, ...]
    conflicts: tuple[Conflict, ...] = ()
    # Things it will do that may not have the effect one expects (never a stop).
    warnings: tuple[PlanWarning, ...] = ()

    @property
    def project(self) -> str:
        return self.desired.project

    @property
    def has_changes(self) -> bool:
        return any(c.action is not Action.NOOP for c in self.changes)

    @property
    def summary(self) -> Summary:
        def count(action: Action) -> int:
            return sum(1 for c in self.changes if c.action is action)

        return Summary(
            create=count(Action.CREATE),
            recreate=count(Action.RECREATE),
            start=count(Action.START),
            remove=count(Action.REMOVE),
            unchanged=count(Action.NOOP),
        )

"""plan(desired, observed) -> Plan: a pure function, no I/O, no docker import.

A Plan is a value (Terraform's ``Change{action, before, after}``): it can be printed,
serialized, tested and applied later. Reasons explain it to people; apply never branches
on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from envkit.engine.base import ObservedContainer, ObservedState
from envkit.model import DesiredState, ServiceSpec

__all__ = ["Action", "Change", "Conflict", "Plan", "ResourceKind", "plan"]


class Action(Enum):
    CREATE = "+"
    RECREATE = "-/+"
    START = ">"
    REMOVE = "-"
    NOOP = "="


class ResourceKind(Enum):
    CONTAINER = "container"
    NETWORK = "network"
    VOLUME = "volume"


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


@dataclass(frozen=True, slots=True)
class Conflict:
    """Something that makes the plan impossible to apply; found before apply touches anything."""

    code: str  # kebab-case: port-in-use, name-taken, image-missing
    message: str
    hint: str | None = None
    service: str | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    desired: DesiredState
    changes: tuple[Change, ...]
    conflicts: tuple[Conflict, ...] = ()

    @property
    def project(self) -> str:
        return self.desired.project

    @property
    def has_changes(self) -> bool:
        return any(c.action is not Action.NOOP for c in self.changes)


def plan(desired: DesiredState, observed: ObservedState) -> Plan:
    raise NotImplementedError  # implemented by the planner work (see tests/unit/test_plan.py)

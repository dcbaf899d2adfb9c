"""``up SERVICE...`` and ``down SERVICE...``: narrowing an instance to some of its
services. Pure.

:func:`scope_desired` keeps the named services plus everything they depend on
(transitively, as Compose's ``up SERVICE`` does) and the named volumes they mount;
:func:`scope_observed` keeps the observed containers of those services only, so the
planner neither shows nor prunes the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from envkit.engine.base import ObservedState
from envkit.model import DesiredState, MountType

__all__ = ["scope_desired", "scope_observed", "with_dependencies"]


def with_dependencies(desired: DesiredState, names: Iterable[str]) -> frozenset[str]:
    """``names`` and every service they depend on, transitively (unknown names are the
    caller's to refuse)."""
    by_name = {s.name: s for s in desired.services}
    todo = [n for n in names if n in by_name]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(d.service for d in by_name[name].depends_on if d.service in by_name)
    return frozenset(seen)


def scope_desired(desired: DesiredState, services: frozenset[str]) -> DesiredState:
    """The desired state with only ``services`` and the named volumes they mount."""
    kept = tuple(s for s in desired.services if s.name in services)
    mounted = {m.source for s in kept for m in s.mounts if m.type is MountType.VOLUME and m.source}
    return replace(
        desired, services=kept, volumes=tuple(v for v in desired.volumes if v.name in mounted)
    )


def scope_observed(observed: ObservedState, services: frozenset[str]) -> ObservedState:
    """The observed state with only the containers of ``services``: the others are
    neither planned nor pruned."""
    return replace(
        observed, containers=tuple(c for c in observed.containers if c.service in services)
    )

"""Before a plan: which images would apply pull, and cannot be pulled here.

A service whose image is missing locally is pulled at apply (pull_policy ``missing``, no
``build:``). Where no registry answers (an air-gapped network, a registry that is down, a
tag that does not exist), that pull fails half-way through ``up``, after other services
changed. So plan and up ask the engine first (:meth:`ImageStore.pull_problem`: the
registry's manifest, nothing pulled), once per image, and the planner turns a "no" into an
``image-unavailable`` conflict: "missing locally, not pullable here", before anything
changes. Images that are present, built, or under pull_policy ``never`` (a conflict of its
own) or ``always`` (pulled before the plan) are not asked about.
"""

from __future__ import annotations

from dataclasses import replace

from envkit.engine.base import Engine, ObservedState
from envkit.model import DesiredState, PullPolicy

__all__ = ["with_pull_check"]


def with_pull_check(
    desired: DesiredState, engine: Engine, observed: ObservedState
) -> ObservedState:
    """``observed`` with :attr:`ObservedState.unpullable` filled for ``desired``'s images."""
    refs = sorted(
        {
            s.image
            for s in desired.services
            if s.pull_policy is PullPolicy.MISSING
            and s.build is None
            and observed.images.get(s.image) is None
        }
    )
    found = {ref: why for ref in refs if (why := engine.pull_problem(ref)) is not None}
    return replace(observed, unpullable=found) if found else observed

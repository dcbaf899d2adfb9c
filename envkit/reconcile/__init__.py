"""The back half: desired state + what the engine reports -> changes on the engine.

::

    plan.py        plan(desired, observed) -> Plan, a pure function (spec_diff: field diffs;
                   legacy: the previous spec hash version's rules, so upgrades recreate nothing)
    present.py     a Plan as text for people and JSON for machines
    apply.py       carries out a Plan, never re-decides (scheduling: the pool; readiness: waits)
    teardown.py    removes an instance; lock.py: the per-instance lock
    expiry.py      ttl, leases and gc's verdict; gc.py: reaping expired instances
    status.py      what runs, as the documented status JSON
    verbs.py       up() and down(): lock -> observe -> plan -> apply -> check

It talks to an engine only through the protocols in ``envkit.engine.base``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envkit._lazy import lazy_exports

if TYPE_CHECKING:
    from envkit.reconcile.changes import Action, Change, Plan
    from envkit.reconcile.verbs import UpResult, down, up

__all__ = ["Action", "Change", "Plan", "UpResult", "down", "up"]

_EXPORTS = {
    "Action": "envkit.reconcile.plan",
    "Change": "envkit.reconcile.plan",
    "Plan": "envkit.reconcile.plan",
    "UpResult": "envkit.reconcile.verbs",
    "down": "envkit.reconcile.verbs",
    "up": "envkit.reconcile.verbs",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

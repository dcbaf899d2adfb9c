"""``envkit rollback ENV`` on a Swarm: return the whole stack to what it was before the last
``up`` that changed it.

Where the previous state lives: each ``up`` that changes services records what it did in a
Swarm config ``{project}_envkit-last-up-{digest}`` (labels ``io.envkit.project`` and
``io.envkit.state=last-up``; JSON ``{"created": [...], "updated": {service: version}}``,
names and versions only, never a value). The previous specs themselves are the services'
``PreviousSpec``, which Swarm keeps in its own (encrypted) store with every secret value, so
envkit never writes a secret anywhere. Rollback sends each updated service its PreviousSpec
(the full spec, at the current version), removes the services the last ``up`` created, waits
for convergence like ``up``, and drops the record (a second rollback has nothing to undo).
Services the last ``up`` removed cannot be restored (their spec is gone with them): that
``up`` is refused nothing, but rollback says so.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from envkit.engine.swarm_base import ServiceOrchestrator
from envkit.errors import ApplyError
from envkit.model import LABEL

__all__ = ["STATE", "record_last_up", "swarm_rollback"]

STATE = "io.envkit.state"
Report = Callable[[str], None]


def record_last_up(
    engine: ServiceOrchestrator,
    project: str,
    created: list[str],
    updated: list[str],
    removed: list[str],
) -> None:
    """Replace the project's last-up record (called after a successful ``up``)."""
    after = engine.observe_swarm(project)
    versions = {s.service: s.version for s in after.services}
    doc = {
        "created": sorted(created),
        "updated": {name: versions.get(name, 0) for name in sorted(updated)},
        "removed": sorted(removed),
    }
    data = json.dumps(doc, sort_keys=True).encode()
    name = f"{project}_envkit-last-up-{hashlib.sha256(data).hexdigest()[:12]}"
    labels = {LABEL.PROJECT: project, STATE: "last-up"}
    old = [o for o in after.objects if o.kind == "state"]
    if not any(o.name == name for o in old):
        engine.create_object("config", name, data, labels)
    for o in old:
        if o.name != name:
            engine.remove_object("config", o.id)


def swarm_rollback(
    engine: ServiceOrchestrator,
    project: str,
    *,
    timeout: float = 300.0,
    report: Report = lambda _: None,
) -> list[str]:
    """Undo the last ``up``; returns what was done, one line each."""
    observed = engine.observe_swarm(project)
    records = [o for o in observed.objects if o.kind == "state"]
    if not records:
        raise ApplyError(
            f"{project}: there is no previous state to return to",
            hint="rollback undoes the last `envkit up` that changed the stack; there was none "
            "since the stack was made (or the last rollback)",
            code="nothing-to-roll-back",
        )
    doc: Mapping[str, Any] = json.loads(engine.config_data(records[0].id))
    by_name = {s.service: s for s in observed.services}
    done: list[str] = []
    for name in doc.get("created", []):
        if name in by_name:
            engine.remove_service(by_name[name].id)
            done.append(f"- {name} (made by the last up)")
    for name in doc.get("updated", {}):
        svc = by_name.get(name)
        if svc is None or not svc.previous_spec:
            done.append(f"! {name}: no previous spec kept by Swarm")
            continue
        engine.update_service(svc.id, svc.version, dict(svc.previous_spec))
        done.append(f"~ {name}: back to its previous spec")
    for name in doc.get("removed", []):
        done.append(f"! {name}: removed by the last up; run `envkit up` with the old stack file")
    for line in done:
        report(line)
    deadline = time.monotonic() + timeout
    for name in doc.get("updated", {}):
        _settled(engine, project, name, deadline)
    for o in records:
        engine.remove_object("config", o.id)
    return done


def _settled(engine: ServiceOrchestrator, project: str, name: str, deadline: float) -> None:
    while True:
        s = engine.service(f"{project}_{name}")
        if s is None:
            return
        live = [t for t in s.tasks if t.desired_state == "running"]
        stopping = [t for t in s.tasks if t.state == "running" and t.desired_state != "running"]
        settled = s.update_state in ("", "completed", "rollback_completed")
        current = all(t.spec_version in (None, s.version) for t in live)
        if (
            live
            and all(t.state == "running" for t in live)
            and current
            and not stopping
            and settled
        ):
            return
        if time.monotonic() > deadline:
            raise ApplyError(f"timed out waiting for {name} to return to its previous spec")
        time.sleep(0.3)

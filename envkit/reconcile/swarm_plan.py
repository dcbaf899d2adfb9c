"""swarm_plan(stack, observed) -> SwarmPlan: the pure planner for a stack on a Docker Swarm.

Desired units are services; observed are the services carrying the project's labels. Per
service (compare the hashes envkit wrote into the labels, never the engine's own spec):

- none observed -> CREATE;
- the deploy mode changed (replicated <-> global, service <-> job: Swarm cannot update it)
  -> RECREATE;
- the task hash changed -> ROLLING update, reasons = field-level differences of the task
  halves (``environment.MODE: a -> c``), and the update order (start-first / stop-first);
- only the service half changed -> IN_PLACE: ``scale 2 -> 3`` and/or the changed fields
  (labels, update_config, rollback_config); no task is replaced;
- unchanged, but the tasks are not converged (fewer running than desired, tasks on a node
  that is down being rescheduled, tasks of an older version) -> CONVERGE: ``up`` waits;
- otherwise NOOP.

Services of the project that the stack no longer has -> REMOVE. Networks, secrets and
configs missing -> CREATE; those of the project no longer used (an old secret version) ->
REMOVE after the services (``swarm_apply`` orders it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from envkit.engine.swarm_base import ObservedService, ObservedSwarm
from envkit.model import LABEL
from envkit.reconcile.spec_diff import FieldDiff, show_value, spec_differences
from envkit.reconcile.swarm_spec import TASK_HASH, canonical_halves, task_hash
from envkit.swarm_model import SwarmService, SwarmStack

__all__ = ["ObjectChange", "ServiceAction", "ServiceChange", "SwarmPlan", "swarm_plan"]


class ServiceAction(Enum):
    CREATE = "+"
    RECREATE = "-/+"
    ROLLING = "~"
    IN_PLACE = "~ "
    CONVERGE = "…"
    REMOVE = "-"
    NOOP = "="


@dataclass(frozen=True, slots=True)
class ServiceChange:
    service: str
    action: ServiceAction
    before: ObservedService | None
    after: SwarmService | None
    reasons: tuple[str, ...] = ()

    def describe(self) -> str:
        a = self.action
        if a is ServiceAction.CREATE:
            return f"+ {self.service}"
        if a is ServiceAction.REMOVE:
            return f"- {self.service}"
        if a is ServiceAction.NOOP:
            return f"= {self.service}"
        if a is ServiceAction.RECREATE:
            return f"-/+ {self.service}: recreate ({'; '.join(self.reasons)})"
        if a is ServiceAction.ROLLING:
            order = _order(self.after)
            return f"~ {self.service}: rolling update ({'; '.join(self.reasons)}), {order}"
        return f"~ {self.service}: {'; '.join(self.reasons)}"


@dataclass(frozen=True, slots=True)
class ObjectChange:
    kind: str  # network | secret | config
    name: str  # the engine's name
    create: bool  # False: remove
    object_id: str = ""


@dataclass(frozen=True, slots=True)
class SwarmPlan:
    project: str
    services: tuple[ServiceChange, ...]  # in depends_on order, removals first
    objects: tuple[ObjectChange, ...] = ()

    @property
    def changes(self) -> tuple[ServiceChange, ...]:
        return tuple(c for c in self.services if c.action is not ServiceAction.NOOP)

    @property
    def empty(self) -> bool:
        return not self.changes and not self.objects

    def render(self) -> str:
        lines = [c.describe() for c in self.changes]
        lines += [f"{'+' if o.create else '-'} {o.kind} {o.name}" for o in self.objects]
        counts: dict[str, int] = {}
        for c in self.changes:
            key = c.action.name.lower().replace("_", "-")
            counts[key] = counts.get(key, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in counts.items()) or "no changes"
        return "\n".join([*lines, f"Plan ({self.project}, swarm): {summary}."])


def _order(svc: SwarmService | None) -> str:
    u = svc.deploy.update_config if svc else None
    return (u.order if u and u.order else None) or "stop-first"


def _topological(stack: SwarmStack) -> list[SwarmService]:
    names = [s.name for s in stack.services]
    done: list[str] = []
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in seen or name in path or name not in names:
            return
        for dep in stack.service(name).spec.depends_on:
            visit(dep.service, (*path, name))
        seen.add(name)
        done.append(name)

    for n in names:
        visit(n, ())
    return [stack.service(n) for n in done]


def swarm_plan(stack: SwarmStack, observed: ObservedSwarm) -> SwarmPlan:
    by_name = {s.service: s for s in observed.services}
    wanted = {s.name for s in stack.services}
    changes = [
        ServiceChange(o.service, ServiceAction.REMOVE, o, None)
        for o in sorted(observed.services, key=lambda o: o.service)
        if o.service not in wanted
    ]
    for svc in _topological(stack):
        changes.append(_service_change(stack, svc, by_name.get(svc.name), observed))
    actions = {c.service: c.action for c in changes}
    return SwarmPlan(stack.project, tuple(changes), _objects(stack, observed, actions))


def _service_change(
    stack: SwarmStack, svc: SwarmService, before: ObservedService | None, observed: ObservedSwarm
) -> ServiceChange:
    if before is None:
        return ServiceChange(svc.name, ServiceAction.CREATE, None, svc)
    task, service = canonical_halves(stack, svc)
    old_task: dict[str, Any] = dict(before.spec.get("task") or {})
    old_service: dict[str, Any] = dict(before.spec.get("service") or {})
    if old_service.get("mode") != service["mode"]:
        return ServiceChange(svc.name, ServiceAction.RECREATE, before, svc,
                             (f"mode: {old_service.get('mode')} -> {service['mode']}",))  # fmt: skip
    sensitive = svc.spec.sensitive_env
    if before.labels.get(TASK_HASH) != task_hash(stack, svc):
        reasons = _lines(spec_differences(old_task, task, sensitive_env=sensitive)) or [
            "a sensitive value changed"
        ]
        return ServiceChange(svc.name, ServiceAction.ROLLING, before, svc, tuple(reasons))
    reasons = []
    if old_service.get("replicas") != service["replicas"]:
        reasons.append(f"scale {old_service.get('replicas')} -> {service['replicas']}")
    rest_old = {k: v for k, v in old_service.items() if k != "replicas"}
    rest_new = {k: v for k, v in service.items() if k != "replicas"}
    reasons += _lines(spec_differences(rest_old, rest_new))
    if not reasons and before.labels.get(LABEL.VERSION) is None:
        reasons.append("labels: envkit's labels missing")
    if reasons:
        return ServiceChange(svc.name, ServiceAction.IN_PLACE, before, svc, tuple(reasons))
    pending = _not_converged(svc, before, observed)
    if pending:
        return ServiceChange(svc.name, ServiceAction.CONVERGE, before, svc, (pending,))
    return ServiceChange(svc.name, ServiceAction.NOOP, before, svc)


def _not_converged(svc: SwarmService, before: ObservedService, observed: ObservedSwarm) -> str:
    if svc.deploy.mode.is_job:
        return ""
    live = [t for t in before.tasks if t.desired_state == "running"]
    running = [t for t in live if t.state == "running" and t.node_ready]
    on_down = sorted({t.node for t in before.tasks if t.node in observed.nodes_down
                      and t.state == "running"})  # fmt: skip
    stale = [t for t in running if t.spec_version is not None and t.spec_version != before.version]
    want = svc.replicas if svc.deploy.mode.has_replicas else None
    parts = []
    if on_down:
        parts.append(f"tasks rescheduled from {', '.join(on_down)} (node down)")
    if want is not None and len(running) != want:
        parts.append(f"{len(running)}/{want} tasks running")
    elif want is None and len(running) < len(live):
        parts.append(f"{len(running)}/{len(live)} tasks running")
    if stale:
        parts.append(f"{len(stale)} task(s) of an older version")
    if before.update_state in ("updating", "paused", "rollback_started", "rollback_paused"):
        parts.append(f"update {before.update_state.replace('_', ' ')}")
    return "; ".join(parts)


def _objects(
    stack: SwarmStack, observed: ObservedSwarm, actions: dict[str, ServiceAction]
) -> tuple[ObjectChange, ...]:
    project = stack.project
    want: dict[tuple[str, str], bool] = {}
    for net in stack.networks:
        if not net.external:
            want[("network", stack.network_name(net.name))] = True
    for kind, objs in (("secret", stack.secrets), ("config", stack.configs)):
        for o in objs:
            if not o.external:
                want[(kind, o.engine_name(project))] = True
    # The versions a service's previous spec will name stay: `envkit rollback` (and Swarm's
    # own rollback of a failed update) return to them. An update makes the current spec the
    # previous one; a service left alone keeps its previous spec.
    for svc in observed.services:
        action = actions.get(svc.service, ServiceAction.REMOVE)
        if action is ServiceAction.REMOVE:
            continue
        kept = [svc.engine_spec]
        if action in (ServiceAction.NOOP, ServiceAction.CONVERGE):
            kept.append(svc.previous_spec or {})
        for spec in kept:
            container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
            for kind, key in (("secret", "Secrets"), ("config", "Configs")):
                for ref in container.get(key) or []:
                    name = (kind, str(ref.get(f"{kind.capitalize()}Name", "")))
                    want.setdefault(name, False)
    have = {(o.kind, o.name): o for o in observed.objects}
    out = [ObjectChange(k, n, True) for (k, n), make in want.items() if make and (k, n) not in have]
    out += [
        ObjectChange(k, n, False, o.id)
        for (k, n), o in sorted(have.items())
        if (k, n) not in want and k not in ("state", "lease")  # envkit's own bookkeeping
    ]
    return tuple(out)


def _lines(diffs: tuple[FieldDiff, ...]) -> list[str]:
    """Field differences as the plan's reason lines (``environment.MODE: "a" -> "c"``)."""
    return [f"{d.path}: {show_value(d.before)} -> {show_value(d.after)}" for d in diffs]

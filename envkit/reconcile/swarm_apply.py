"""Carry out a :class:`SwarmPlan` on a Swarm manager, and take a stack down.

``swarm_up``: pin the images by registry digest (:mod:`envkit.reconcile.swarm_images`);
create missing networks, secrets and configs; then per service in ``depends_on``
order create / update (the full spec at the current version) / recreate, and wait until it
has converged: running tasks == desired, every one of the current version, healthy where a
healthcheck exists (Swarm counts a task running only once healthy), then the update's monitor
window. A failed update (Swarm rolled it back, or paused it) raises ApplyError with the
tasks' errors and their last log lines. Objects no longer used go last.

``swarm_down``: remove the services, wait until their tasks hold no container, then remove
networks, secrets and configs (Swarm removes asynchronously: without the wait, an immediate
redeploy fails on "network not found").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from envkit.engine.swarm_base import ObservedService, ObservedTask, ServiceOrchestrator
from envkit.errors import ApplyError, EngineError
from envkit.model import LABEL
from envkit.reconcile.swarm_images import pinned
from envkit.reconcile.swarm_plan import ServiceAction, ServiceChange, SwarmPlan, swarm_plan
from envkit.reconcile.swarm_spec import engine_spec
from envkit.swarm_model import SwarmService, SwarmStack

__all__ = ["swarm_down", "swarm_up"]

Report = Callable[[str], None]
_FAILED = ("failed", "rejected")
_POLL_S = 0.2  # between two looks at a service being waited for


def swarm_up(
    engine: ServiceOrchestrator,
    stack: SwarmStack,
    *,
    timeout: float = 300.0,
    report: Report = lambda _: None,
    object_ids: Callable[[], dict[str, str]] | None = None,
) -> SwarmPlan:
    observed = engine.observe_swarm(stack.project)
    pins = pinned(engine.image_digests, stack, observed)  # image@sha256:... (swarm_images)
    stack = pins.stack
    for note in pins.notes:
        report(f"note: {note}")
    plan = swarm_plan(stack, observed)
    base = _project_labels(stack)
    for obj in plan.objects:
        if not obj.create:
            continue
        if obj.kind == "network":
            net = next(n for n in stack.networks if stack.network_name(n.name) == obj.name)
            engine.create_network(obj.name, {"driver": net.driver, "attachable": net.attachable,
                                             "internal": net.internal, "driver_opts": dict(net.driver_opts),
                                             "labels": {**dict(net.labels), **base}})  # fmt: skip
        else:
            pool = stack.secrets if obj.kind == "secret" else stack.configs
            o = next(x for x in pool if x.engine_name(stack.project) == obj.name)
            engine.create_object(obj.kind, obj.name, o.data, base)
        report(f"+ {obj.kind} {obj.name}")
    sending = any(c.action not in (ServiceAction.NOOP, ServiceAction.CONVERGE,
                                   ServiceAction.REMOVE) for c in plan.services)  # fmt: skip
    ids = object_ids() if object_ids and sending else {}
    deadline = time.monotonic() + timeout
    for change in plan.services:
        if change.action is ServiceAction.REMOVE and change.before is not None:
            engine.remove_service(change.before.id)
            report(f"- {change.service}")
    for wave in _waves(plan):  # a service is sent once everything it depends on converged
        sent = []
        for change in wave:
            svc = change.after
            if svc is None or change.action is ServiceAction.NOOP:
                continue  # NOOP: converged when observed just now
            _send(engine, stack, change, svc, ids, deadline)
            report(change.describe())
            sent.append((svc, change.action is not ServiceAction.ROLLING))
        windows: list[_Window] = []
        look = _shared_look(engine, stack.project)  # made after the sends: nothing stale
        for svc, watch in sent:
            known = _converge(engine, stack, svc, deadline, report, look=look)
            monitor = svc.deploy.update_config.monitor_s if svc.deploy.update_config else None
            if watch and monitor and not svc.deploy.mode.is_job:
                windows.append(_Window(svc.name, f"{stack.project}_{svc.name}", monitor, known))
        _watch_windows(engine, windows, report)  # the wave's windows run together
    for obj in plan.objects:
        if not obj.create:
            engine.remove_object(obj.kind, obj.object_id)
            report(f"- {obj.kind} {obj.name}")
    _record(engine, stack, plan)
    return plan


def _waves(plan: SwarmPlan) -> list[list[ServiceChange]]:
    """The services by depends_on depth: independent services go out together."""
    wanted = {c.service: c for c in plan.services if c.after is not None}
    depth: dict[str, int] = {}

    def level(name: str, seen: tuple[str, ...] = ()) -> int:
        if name not in depth:
            svc = wanted[name].after
            deps = [d.service for d in svc.spec.depends_on] if svc else []
            depth[name] = 1 + max(
                (level(d, (*seen, name)) for d in deps if d in wanted and d not in seen),
                default=-1,
            )
        return depth[name]

    waves: dict[int, list[ServiceChange]] = {}
    for name, change in wanted.items():  # plan order (topological) within a wave
        waves.setdefault(level(name), []).append(change)
    return [waves[k] for k in sorted(waves)]


def _send(
    engine: ServiceOrchestrator,
    stack: SwarmStack,
    change: ServiceChange,
    svc: SwarmService,
    ids: dict[str, str],
    deadline: float,
) -> None:
    spec = engine_spec(stack, svc, ids)
    before = change.before
    if change.action is ServiceAction.CREATE:
        engine.create_service(spec)
    elif change.action is ServiceAction.RECREATE and before is not None:
        engine.remove_service(before.id)
        old = before.id
        _wait(lambda: engine.containers_left([old]) == 0, deadline,
              f"the old tasks of {svc.name} to go")  # fmt: skip
        engine.create_service(spec)
    elif change.action in (ServiceAction.ROLLING, ServiceAction.IN_PLACE) and before:
        engine.update_service(before.id, before.version, spec)


def _record(engine: ServiceOrchestrator, stack: SwarmStack, plan: SwarmPlan) -> None:
    """What this up did, for ``envkit rollback`` (``envkit.reconcile.swarm_rollback``)."""
    from envkit.reconcile.swarm_rollback import record_last_up

    def named(*actions: ServiceAction) -> list[str]:
        return [c.service for c in plan.services if c.action in actions]

    created = named(ServiceAction.CREATE)
    updated = named(ServiceAction.ROLLING, ServiceAction.IN_PLACE)
    removed = named(ServiceAction.REMOVE, ServiceAction.RECREATE)  # no previous spec left
    if created or updated or removed:
        record_last_up(engine, stack.project, created, updated, removed)


def _project_labels(stack: SwarmStack) -> dict[str, str]:
    d = stack.desired
    labels = {LABEL.STACK: d.stack, LABEL.ENV: d.environment, LABEL.PROJECT: d.project}
    if d.instance:
        labels[LABEL.INSTANCE] = d.instance
    return labels


def _wait(check: Callable[[], bool], deadline: float, what: str) -> None:
    while not check():
        if time.monotonic() > deadline:
            raise ApplyError(f"timed out waiting for {what}",
                             hint="raise --timeout, or look at `docker service ps` on the manager")  # fmt: skip
        time.sleep(_POLL_S)


def _shared_look(
    engine: ServiceOrchestrator, project: str
) -> Callable[[str], ObservedService | None]:
    """``engine.service`` for the services of one wave: answered from one observation of
    the project, renewed when older than a poll interval, so a wave of N services costs
    one observation per poll rather than N (each converged service's check after the first
    reads the observation its predecessor's last poll made)."""
    cache: dict[str, ObservedService] = {}
    taken = [-_POLL_S]

    def look(name: str) -> ObservedService | None:
        now = time.monotonic()
        if now - taken[0] >= _POLL_S:
            cache.clear()
            cache.update((s.name, s) for s in engine.observe_swarm(project).services)
            taken[0] = now
        return cache.get(name)

    return look


def _converge(
    engine: ServiceOrchestrator,
    stack: SwarmStack,
    svc: SwarmService,
    deadline: float,
    report: Report,
    *,
    look: Callable[[str], ObservedService | None] | None = None,
) -> frozenset[str]:
    """Wait until ``svc`` converged; return the ids of the failed tasks seen meanwhile.
    A rolling update's monitor window is Swarm's: it says ``completed`` only after the new
    tasks ran that long (measured on the test cluster: a 10 s window, ``completed`` 10 s
    after the task ran), and a task failing inside it pauses or rolls the update back,
    which raises here. Swarm watches no window after a create, a recreate or a scale:
    :func:`_watch_windows` does."""
    name = f"{stack.project}_{svc.name}"
    state: dict[str, ObservedService | None] = {"s": None}
    look = look or engine.service

    seen: dict[str, ObservedTask] = {}  # failed tasks seen while waiting (Swarm prunes them)

    def done() -> bool:
        s = look(name)
        if s is not None:
            seen.update((t.id, t) for t in s.tasks if t.state in _FAILED)
        state["s"] = s
        if s is None:
            return False
        if s.update_state in ("rollback_completed", "rollback_paused", "paused"):
            raise _update_failed(engine, svc.name, s, seen)
        if svc.deploy.mode.is_job:
            return (
                any(t.state == "complete" for t in s.tasks)
                and not any(
                    t.desired_state == "running" or t.state in ("running", "starting", "pending")
                    for t in s.tasks
                )
            ) or s.update_state == "completed"
        live = [t for t in s.tasks if t.desired_state == "running"]
        running = [t for t in live if t.state == "running" and t.node_ready]
        # A global service's count is the nodes Swarm found eligible, which envkit does not
        # know; the orchestrator creates the tasks of every eligible node at once, so (as
        # docker/cli's global progress does) the tasks it made are the count, and none yet
        # means not converged, not "0 of 0".
        wanted = svc.replicas if svc.deploy.mode.has_replicas else max(len(live), 1)
        if len(running) < len(live) or len(running) != wanted:
            _fail_fast(engine, svc, s)
            return False
        if any(t.spec_version is not None and t.spec_version != s.version for t in running):
            return False
        if any(t.state == "running" and t.desired_state != "running" for t in s.tasks):
            return False  # tasks of a scale-down or an update still stopping
        return s.update_state in ("", "completed")

    _wait(done, deadline, f"service {svc.name} to converge")
    report(f"  {svc.name}: converged")
    return frozenset(seen)


@dataclass(frozen=True, slots=True)
class _Window:
    service: str
    name: str  # the engine's service name
    monitor_s: float
    known: frozenset[str]  # failed tasks seen before the window: not this window's


def _watch_windows(engine: ServiceOrchestrator, windows: list[_Window], report: Report) -> None:
    """After a create, recreate or scale (Swarm monitors only rolling updates), watch each
    service's tasks for its ``update_config.monitor``, all at once: a task that fails
    inside its window raises, naming it."""
    start = time.monotonic()
    for w in windows:
        report(f"  {w.service}: watching its tasks for the monitor window ({w.monitor_s:g} s)")
    pending = list(windows)
    while pending:
        for w in list(pending):
            s = engine.service(w.name)
            if s is None:
                raise ApplyError(f"service {w.service} disappeared inside its monitor window",
                                 hint="another client removed it: run `envkit up` again")  # fmt: skip
            failed = {t.id: t for t in s.tasks if t.state in _FAILED and t.id not in w.known}
            if failed:
                raise _update_failed(engine, w.service, s, failed,
                                     what=f"failed inside its monitor window ({w.monitor_s:g} s)")  # fmt: skip
            if time.monotonic() - start >= w.monitor_s:
                pending.remove(w)
        if pending:
            left = min(w.monitor_s for w in pending) - (time.monotonic() - start)
            time.sleep(min(0.5, max(0.0, left)))


def _fail_fast(engine: ServiceOrchestrator, svc: SwarmService, s: ObservedService) -> None:
    """A service with no update in flight whose tasks keep failing: report it at once
    rather than at the timeout (a rolling update handles its failures by itself)."""
    failed = [t for t in s.tasks if t.state in _FAILED and t.spec_version in (None, s.version)]
    if s.update_state in ("", "completed") and len(failed) >= 3:
        raise _update_failed(engine, svc.name, s)


def _update_failed(
    engine: ServiceOrchestrator,
    service: str,
    s: ObservedService,
    seen: dict[str, ObservedTask] | None = None,
    *,
    what: str | None = None,
) -> ApplyError:
    failed = list(
        {**(seen or {}), **{t.id: t for t in s.tasks if t.state in _FAILED}}.values()
    ) or [t for t in s.tasks if t.error and t.state != "shutdown"]
    lines = []
    for t in failed[:3]:
        lines.append(f"  task {t.id[:12]} on {t.node or '?'}: {t.state}: {t.error or t.message}")
        if t.node_ready:
            lines += [f"    | {line}" for line in engine.task_logs(t.id, 5)]
        else:  # the read would wait for the node until the socket times out
            lines.append(f"    | (logs not read: {t.node or 'its node'} is down)")
    what = what or {"rollback_completed": "was rolled back", "rollback_paused": "rollback paused",
                    "paused": "update paused"}.get(s.update_state, "tasks keep failing")  # fmt: skip
    why = failed[0].error if failed else ""
    reason = "; ".join(x for x in (s.update_message, why) if x)
    return ApplyError(
        f"service {service} {what}: {reason}".rstrip(": "),
        detail="\n".join(lines) or None,
        hint="fix the service (see the task errors and logs above) and run `envkit up` again",
        code="swarm-update-failed",
    )


def swarm_down(engine: ServiceOrchestrator, project: str, *, timeout: float = 120.0) -> int:
    """Remove the project's services, wait for their tasks, then its networks, secrets and
    configs. Returns how many objects went."""
    observed = engine.observe_swarm(project)
    for s in observed.services:
        engine.remove_service(s.id)
    deadline = time.monotonic() + timeout
    ids = [s.id for s in observed.services]
    _wait(lambda: engine.containers_left(ids) == 0, deadline, f"the tasks of {project} to go")
    for o in observed.objects:  # a network can stay "in use" a moment after its tasks
        while True:
            try:
                engine.remove_object(o.kind, o.id)
                break
            except EngineError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
    _wait(lambda: not engine.observe_swarm(project).objects, deadline,
          f"the networks, secrets and configs of {project} to go")  # fmt: skip
    return len(observed.services) + len(observed.objects)

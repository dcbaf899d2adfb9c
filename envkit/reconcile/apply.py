"""apply(plan, engine, reporter) -> ApplyResult: carry out a Plan, never re-decide it.

Order: the project network and volumes first; containers the plan removes (pruned services,
lowered replicas) next, with the old containers of recreates whose host port another
container of this apply takes (a port moved between services, or swapped); then services in dependency order, independent services in
parallel in a bounded worker pool. A service starts only when every dependency meets its
condition (started, healthy, completed successfully), each wait bounded by ``timeout_s``.
A failed service stops its dependents; independent branches still finish, and the
failures are raised together as one :class:`~envkit.errors.ApplyError` carrying each
container's last log lines and health log.

What each action does:

- CREATE: make the image present (pull policy / build), create, start.
- RECREATE: make the image present and create the new container (under a temporary
  name) *before* touching the old one, then stop the old one (its stop_grace_period),
  remove it, rename the new one, start it: a create the engine refuses leaves the old
  container running (see ``_replace``). Named volumes survive (they have names); the old
  container's anonymous volumes that the plan carries over are mounted in the new one at
  the same paths, as Compose does (``envkit.reconcile.anonymous``).
- START: start the stopped container. NOOP: nothing, but dependents still wait on it.
- Without ``wait``, a container this apply started that exits with a non-zero code within
  ``START_SETTLE_S`` fails the apply with its logs (one list call after the last start);
  with ``wait``, every container must become healthy (or stay running) instead. Waiting
  (conditions, readiness, failures with logs) is ``envkit.reconcile.readiness``; the worker pool,
  cancellation and combining failures are ``envkit.reconcile.scheduling``.
- REMOVE: stop and remove; its volumes stay (as in Compose) until ``down --volumes``/gc.

Interruption: on Ctrl-C no more work is submitted, engine calls in flight finish, waits
stop, and KeyboardInterrupt propagates. Every step is a whole engine call, so the engine is
always in a state the next plan describes (a crash between remove and create just means the
next plan says create). Locking is the caller's job (``envkit.reconcile.lock.instance_lock``).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from envkit.canonical import container_labels, project_labels
from envkit.engine.base import Engine, ObservedContainer
from envkit.errors import EngineError, EngineUnavailable, EnvkitError, ImageNotFound, PlanConflict
from envkit.model import LABEL, PullPolicy, ServiceSpec, addresses_overlap
from envkit.progress import Kind, Outcome, Reporter, Subject, failing
from envkit.reconcile.changes import Action, Change, Plan
from envkit.reconcile.plan import ResourceKind
from envkit.reconcile.readiness import (
    Clock,
    Waits,
    exited_after_start,
    wait_all_ready,
    wait_condition,
    wait_ready,
)
from envkit.reconcile.scheduling import in_pool, run_jobs
from envkit.reconcile.teardown import stop_and_remove

__all__ = [
    "ApplyResult",
    "apply",
    "report_unchanged",
    "subject",
    "wait_ready",
]

Labels = Mapping[str, str]

_KINDS = {
    ResourceKind.NETWORK: Kind.NETWORK,
    ResourceKind.VOLUME: Kind.VOLUME,
    ResourceKind.CONTAINER: Kind.CONTAINER,
}
_DONE = {
    Action.CREATE: Outcome.CREATED,
    Action.RECREATE: Outcome.RECREATED,
    Action.START: Outcome.STARTED,
}


def subject(change: Change) -> Subject:
    """What the reporter is told a change is about."""
    return Subject(_KINDS[change.kind], change.name, change.service)


def report_unchanged(plan: Plan, reporter: Reporter) -> None:
    """Tell the reporter about the objects the plan leaves as they are (``up`` does not
    call apply when nothing changes and nothing is waited for)."""
    for change in plan.changes:
        if change.action is Action.NOOP:
            reporter.step(subject(change), "unchanged", Outcome.UNCHANGED)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    project: str
    container_ids: Mapping[str, str]  # container name -> id, every container of the plan
    done: tuple[tuple[str, Action], ...]  # what was carried out, in completion order
    # The project's containers as the start check listed them once the settle time was
    # over (None when it made no list: nothing started, ``wait``, or a failure before).
    settled: tuple[ObservedContainer, ...] | None = None


class _Run(Waits):
    """The shared state of one apply: what waits need, plus the plan, results and the
    image memo."""

    def __init__(
        self,
        plan: Plan,
        engine: Engine,
        reporter: Reporter,
        timeout_s: float,
        expires: str | None,
        now: Clock,
        present_images: Mapping[str, str | None],
    ) -> None:
        super().__init__(engine, plan.desired, reporter, timeout_s, now)
        self.plan = plan
        self.expires = expires
        self.present_images = present_images
        self.done: list[tuple[str, Action]] = []
        self.released: set[str] = set()  # recreates whose old container went early
        # (image, policy, build) -> the one pull/build of it, and the service that asked first
        self.images: dict[tuple[Any, ...], tuple[Future[str], str]] = {}
        self.settled: list[ObservedContainer] | None = None  # the start check's list

    def remember(self, name: str, container_id: str) -> None:
        with self.lock:
            self.ids[name] = container_id

    def record(self, name: str, action: Action) -> None:
        with self.lock:
            self.done.append((name, action))

    def ensure_image(self, spec: ServiceSpec) -> None:
        """Once per distinct image per apply, even when services ask in parallel. An image
        the observe just listed needs no engine call under the default policy (``missing``,
        no ``build:``): the engine would only inspect it again."""
        if (
            spec.pull_policy is PullPolicy.MISSING
            and spec.build is None
            and self.present_images.get(spec.image)
        ):
            return
        key = (spec.image, spec.pull_policy, spec.build)
        with self.lock:
            fut, first = self.images.get(key) or (None, spec.name)
            owner = fut is None
            if fut is None:
                fut = Future()
                self.images[key] = (fut, first)
        if owner:
            try:
                fut.set_result(
                    self.engine.ensure_image(
                        spec,
                        on_output=lambda line: self.reporter.output(
                            Subject(Kind.IMAGE, spec.image), line
                        ),
                    )
                )
            except BaseException as exc:
                fut.set_exception(exc)
        try:
            fut.result()
        except EngineError as exc:
            if owner or isinstance(exc, EngineUnavailable):
                raise
            # The failure is the first asker's and is reported against it; this service
            # fails because of it, said once and in its own name.
            raise ImageNotFound(
                f"service {spec.name}: image {spec.image!r} is not available: getting it "
                f"failed for service {first}",
                origin=spec.origin,
                code="shared-image-failed",
            ) from exc


def apply(
    plan: Plan,
    engine: Engine,
    reporter: Reporter,
    *,
    wait: bool = False,
    timeout_s: float = 300.0,
    workers: int = 8,
    expires: str | None = None,
    now: Clock = time.monotonic,
    present_images: Mapping[str, str | None] | None = None,
    while_settling: Callable[[], object] | None = None,
) -> ApplyResult:
    """Carry out ``plan`` on ``engine``. ``wait``: at the end, wait until every container
    is healthy (when it has no healthcheck: running, and for SETTLE_S after its start).
    ``expires``: RFC 3339 expiry label for throwaway instances. ``present_images``: image
    ref -> local id as the observe ``plan`` came from listed them (a present one needs no
    inspect). ``while_settling`` (without ``wait``): called once every change is made,
    before the start check waits out its settle time, which it shortens by its own length
    (``up`` reads the engine back for its convergence check there). Raises ApplyError
    (with logs) when a service fails, PlanConflict when the plan has conflicts,
    EngineError when the engine refuses an operation."""
    if plan.conflicts:
        first = plan.conflicts[0]
        more = f" (and {len(plan.conflicts) - 1} more)" if len(plan.conflicts) > 1 else ""
        raise PlanConflict(first.message + more, hint=first.hint, code=first.code)
    run = _Run(plan, engine, reporter, timeout_s, expires, now, present_images or {})
    body = partial(_carry_out, run, wait=wait, while_settling=while_settling)
    in_pool(workers, run.cancel, body)
    settled = None if run.settled is None else tuple(run.settled)
    return ApplyResult(plan.project, dict(run.ids), tuple(run.done), settled)


def _carry_out(
    run: _Run,
    pool: ThreadPoolExecutor,
    *,
    wait: bool,
    while_settling: Callable[[], object] | None,
) -> list[EnvkitError]:
    """Infra, removals, services in dependency order, then the start check or the waits;
    each step only when the one before had no failures."""
    containers = [c for c in run.plan.changes if c.kind is ResourceKind.CONTAINER]
    _apply_infra(run)
    removals = [c for c in containers if c.action is Action.REMOVE]
    jobs = {c.name: partial(_remove, run, c) for c in removals}
    jobs.update({c.name: partial(_release, run, c) for c in _port_holders(containers)})
    failures = run_jobs(pool, jobs, {}, reporter=run.reporter, check=run.check)
    if failures:  # the services were never started
        for change in containers:
            if change.name not in jobs:
                run.reporter.step(subject(change), "not started", Outcome.SKIPPED)
    if not failures:
        failures = _apply_services(run, pool, [c for c in containers if c not in removals])
    if not wait and not failures:
        if while_settling is not None:
            while_settling()
        failures, run.settled = exited_after_start(run)
    if wait and not failures:
        failures = wait_all_ready(run, pool)
    return failures


# -- infrastructure ------------------------------------------------------------------------


def _apply_infra(run: _Run) -> None:
    desired = run.desired
    for change in run.plan.changes:
        if change.kind is ResourceKind.NETWORK and change.action is Action.CREATE:
            wanted = next((n for n in desired.network_specs() if n.name == change.network), None)
            labels = dict(wanted.labels) if wanted else {}
            labels.update(project_labels(desired, expires=run.expires))
            net = subject(change)
            run.reporter.step(net, "creating network")
            with failing(run.reporter, [net]):
                run.engine.create_network(change.name, labels, wanted)
            run.reporter.step(net, "created", Outcome.CREATED)
            run.record(change.name, Action.CREATE)
        elif change.kind is ResourceKind.VOLUME and change.action is Action.CREATE:
            spec = next(
                (v for v in desired.volumes if desired.volume_name(v.name) == change.name), None
            )
            labels = dict(spec.labels) if spec else {}
            labels.update(project_labels(desired, expires=run.expires))
            if spec:
                labels[LABEL.VOLUME] = spec.name
            vol = subject(change)
            run.reporter.step(vol, "creating volume")
            with failing(run.reporter, [vol]):
                run.engine.create_volume(
                    change.name,
                    labels,
                    driver=spec.driver if spec else "local",
                    driver_opts=dict(spec.driver_opts) if spec else None,
                )
            run.reporter.step(vol, "created", Outcome.CREATED)
            run.record(change.name, Action.CREATE)


# -- containers ----------------------------------------------------------------------------


def _remove(run: _Run, change: Change) -> None:
    before = change.before
    if before is None:
        return
    run.check()
    it = subject(change)
    run.reporter.step(it, "stopping")
    with failing(run.reporter, [it]):
        stop_and_remove(run.engine, before)
    run.reporter.step(it, "removed", Outcome.REMOVED)
    run.record(change.name, Action.REMOVE)


def _port_holders(changes: list[Change]) -> list[Change]:
    """Recreates whose old container holds a host port that another container of this
    apply will publish (a port moved from one service to another, or two swapped). They
    cannot wait for their turn in dependency order: the other service may start first, or
    each may wait for the other's port. So their old containers go with the removals."""
    wanted = [
        (c.name, p.host_ip, port, p.protocol)
        for c in changes
        if c.action in (Action.CREATE, Action.RECREATE) and c.after is not None
        for p in c.after.ports
        for port in p.host_ports
    ]
    return [
        c
        for c in changes
        if c.action is Action.RECREATE
        and c.before is not None
        and any(
            name != c.name
            and (port, proto) == (b.host_port, b.protocol)
            and addresses_overlap(ip, b.host_ip)
            for b in c.before.ports
            for name, ip, port, proto in wanted
        )
    ]


def _release(run: _Run, change: Change) -> None:
    """Stop and remove the old container of a recreate early (see _port_holders), once its
    new image is at hand; the recreate then only creates and starts."""
    assert change.before is not None and change.after is not None
    it = subject(change)
    with failing(run.reporter, [it]):
        run.ensure_image(change.after)
        run.check()
        run.reporter.step(it, "stopping (recreate; its host port moves)")
        stop_and_remove(run.engine, change.before)
    with run.lock:
        run.released.add(change.name)


def _replace(
    run: _Run, change: Change, before: ObservedContainer, spec: ServiceSpec, labels: Labels
) -> str:
    """Recreate as Compose does: create the new container beside the old one under a
    temporary name (``{old id[:12]}_{name}``; a create binds no host port, so ports never
    stand in the way), and only then stop and remove the old one and give the new one its
    name. A value the engine refuses at create (``cpus`` above the host's CPUs) thus fails
    with the old container untouched, still running. Should the swap fail half-way, the
    new container is removed again; a leftover one (a crash) is planned as an extra
    container and removed by the next ``up``."""
    it = subject(change)
    temp = f"{before.id[:12]}_{change.name}"
    try:
        cid = run.engine.create_container(
            run.desired, spec, change.replica or 1, labels, change.carried, name=temp
        )
    except EngineError as exc:
        raise type(exc)(
            f"{exc.message}; the old container {change.name} was left as it was "
            f"({before.state}), so the service keeps its current version",
            hint=exc.hint
            or "fix the value the engine refused in the stack file, then run 'up' again",
            code=exc.code,
            detail=exc.detail,
        ) from exc
    try:
        run.check()
        run.reporter.step(it, "stopping (recreate)")
        stop_and_remove(run.engine, before)
        run.check()
        run.engine.rename_container(cid, change.name)
    except BaseException:
        with contextlib.suppress(EnvkitError):
            run.engine.remove_container(cid)
        raise
    return cid


def _apply_services(
    run: _Run, pool: ThreadPoolExecutor, changes: list[Change]
) -> list[EnvkitError]:
    by_service: dict[str, list[Change]] = {}
    for change in changes:
        if change.service is not None:
            by_service.setdefault(change.service, []).append(change)
    for change_list in by_service.values():
        for change in change_list:
            if change.before is not None and change.action in (Action.NOOP, Action.START):
                run.remember(change.name, change.before.id)
    names = {s.name for s in run.desired.services}
    deps = {
        s.name: {d.service for d in s.depends_on if d.service in names}
        for s in run.desired.services
    }
    jobs = {
        s.name: partial(_service, run, s, by_service.get(s.name, [])) for s in run.desired.services
    }
    subjects = {name: [subject(c) for c in found] for name, found in by_service.items()}
    return run_jobs(pool, jobs, deps, reporter=run.reporter, check=run.check, subjects=subjects)


def _service(run: _Run, spec: ServiceSpec, changes: list[Change]) -> None:
    ordered = sorted(changes, key=lambda c: c.replica or 0)
    waiters = [subject(c) for c in ordered]
    with failing(run.reporter, waiters):
        for dep in spec.depends_on:
            if any(s.name == dep.service for s in run.desired.services):
                wait_condition(run, waiters, dep.service, dep.condition)
    for i, change in enumerate(ordered):
        run.check()
        try:
            with failing(run.reporter, [waiters[i]]):
                _container(run, spec, change)
        except BaseException:
            for rest in waiters[i + 1 :]:
                run.reporter.step(rest, "not started", Outcome.SKIPPED)
            raise


def _container(run: _Run, spec: ServiceSpec, change: Change) -> None:
    action = change.action
    after = change.after or spec
    replica = change.replica or 1
    it = subject(change)
    if action is Action.NOOP:
        run.reporter.step(it, "unchanged", Outcome.UNCHANGED)
        return
    if action is Action.START:
        assert change.before is not None
        cid = change.before.id
        if change.before.state == "paused":  # `envkit pause`d: up resumes it
            run.reporter.step(it, "unpausing")
            run.engine.unpause_container(cid)
            run.record(change.name, action)
            run.reporter.step(it, "unpaused", _DONE[action])
            return
        run.reporter.step(it, "starting")
    else:
        run.reporter.step(it, "creating" if action is Action.CREATE else "recreating")
        run.ensure_image(after)  # a pull or build reports its own output lines
        run.check()
        with run.lock:
            released = change.name in run.released
        labels = container_labels(run.desired, after, replica, expires=run.expires)
        if action is Action.RECREATE and change.before is not None and not released:
            cid = _replace(run, change, change.before, after, labels)
        else:
            cid = run.engine.create_container(run.desired, after, replica, labels, change.carried)
        run.remember(change.name, cid)
        run.reporter.step(it, "created")
    run.engine.start_container(cid)
    with run.lock:
        run.started[change.name] = run.now()
    run.record(change.name, action)
    run.reporter.step(it, "started", _DONE[action])

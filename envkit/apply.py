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
- RECREATE: make the image present *before* touching the old container, stop it (its
  stop_grace_period), remove it, create, start. Named volumes survive (they have names);
  anonymous volumes are removed with the old container, so a recreated container starts
  with fresh anonymous volumes (unlike Compose, which copies them: envkit keeps state only
  in named volumes, which is what ``down --volumes`` reasons about).
- START: start the stopped container. NOOP: nothing, but dependents still wait on it.
- Without ``wait``, a container this apply started that exits with a non-zero code within
  ``START_SETTLE_S`` fails the apply with its logs (one list call after the last start);
  with ``wait``, every container must become healthy (or stay running) instead.
- REMOVE: stop and remove (with its anonymous volumes).

Interruption: on Ctrl-C no more work is submitted, engine calls in flight finish, waits
stop, and KeyboardInterrupt propagates. Every step is a whole engine call, so the engine is
always in a state the next plan describes (a crash between remove and create just means the
next plan says create). Locking is the caller's job (``envkit.lock.instance_lock``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from typing import Any

from envkit.engine.base import ContainerStatus, Engine
from envkit.errors import ApplyError, EngineError, EngineUnavailable, EnvkitError, PlanConflict
from envkit.model import (
    LABEL,
    Condition,
    DesiredState,
    ServiceSpec,
    container_labels,
    project_labels,
)
from envkit.plan import Action, Change, Plan, ResourceKind
from envkit.progress import Reporter
from envkit.teardown import DownResult, down, stop_grace_s

__all__ = ["ApplyResult", "DownResult", "apply", "down", "wait_ready"]

Clock = Callable[[], float]
LOG_TAIL = 20
POLL_S = 0.2
# `wait` on a container without a healthcheck: "ready" means it stayed running this long
# after this apply started it, so one that exits at once is not reported ready.
SETTLE_S = 1.0
# Without `wait`: a container that exits (non-zero) this soon after its start failed to
# start, and apply says so with its logs. One list call after the last start, not a poll.
START_SETTLE_S = 0.3


@dataclass(frozen=True, slots=True)
class ApplyResult:
    project: str
    container_ids: Mapping[str, str]  # container name -> id, every container of the plan
    done: tuple[tuple[str, Action], ...]  # what was carried out, in completion order


class _Cancelled(Exception):
    """Raised inside workers once Ctrl-C was pressed: stop before the next engine call."""


class _Run:
    """The shared state of one apply: engine, reporter, clock, results and the image memo."""

    def __init__(
        self,
        plan: Plan,
        engine: Engine,
        reporter: Reporter,
        timeout_s: float,
        expires: str | None,
        now: Clock,
    ) -> None:
        self.plan = plan
        self.desired = plan.desired
        self.engine = engine
        self.reporter = reporter
        self.timeout_s = timeout_s
        self.expires = expires
        self.now = now
        self.cancel = threading.Event()
        self.lock = threading.Lock()
        self.ids: dict[str, str] = {}
        self.started: dict[str, float] = {}  # container name -> when this apply started it
        self.done: list[tuple[str, Action]] = []
        self.released: set[str] = set()  # recreates whose old container went early
        self.images: dict[tuple[Any, ...], Future[str]] = {}

    def check(self) -> None:
        if self.cancel.is_set():
            raise _Cancelled

    def remember(self, name: str, container_id: str) -> None:
        with self.lock:
            self.ids[name] = container_id

    def record(self, name: str, action: Action) -> None:
        with self.lock:
            self.done.append((name, action))

    def ensure_image(self, spec: ServiceSpec) -> None:
        """Once per distinct image per apply, even when services ask in parallel."""
        key = (spec.image, spec.pull_policy, spec.build)
        with self.lock:
            fut = self.images.get(key)
            owner = fut is None
            if fut is None:
                fut = self.images[key] = Future()
        if owner:
            try:
                fut.set_result(
                    self.engine.ensure_image(
                        spec, on_output=lambda line: self.reporter.output(spec.image, line)
                    )
                )
            except BaseException as exc:
                fut.set_exception(exc)
        fut.result()

    def sleep(self, seconds: float = POLL_S) -> None:
        if self.cancel.wait(seconds):
            raise _Cancelled


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
) -> ApplyResult:
    """Carry out ``plan`` on ``engine``. ``wait``: at the end, wait until every container
    is healthy (when it has no healthcheck: running, and for SETTLE_S after its start). ``expires``: RFC 3339 expiry label
    for throwaway instances. Raises ApplyError (with logs) when a service fails, PlanConflict
    when the plan has conflicts, EngineError when the engine refuses an operation."""
    if plan.conflicts:
        first = plan.conflicts[0]
        more = f" (and {len(plan.conflicts) - 1} more)" if len(plan.conflicts) > 1 else ""
        raise PlanConflict(first.message + more, hint=first.hint, code=first.code)
    run = _Run(plan, engine, reporter, timeout_s, expires, now)
    containers = [c for c in plan.changes if c.kind is ResourceKind.CONTAINER]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="envkit") as pool:
        try:
            _apply_infra(run)
            removals = [c for c in containers if c.action is Action.REMOVE]
            jobs = {c.name: partial(_remove, run, c) for c in removals}
            jobs.update({c.name: partial(_release, run, c) for c in _port_holders(containers)})
            failures = _run_all(run, pool, jobs, {})
            if not failures:
                failures = _apply_services(run, pool, [c for c in containers if c not in removals])
            if not wait and not failures:
                failures = _exited_after_start(run)
            if wait and not failures:
                ready = {
                    s.name: partial(_wait_service_ready, run, s) for s in plan.desired.services
                }
                failures = _run_all(run, pool, ready, {})
        except BaseException:
            run.cancel.set()  # waits stop; calls in flight finish; nothing new starts
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if failures:
        raise _combine(failures)
    return ApplyResult(plan.project, dict(run.ids), tuple(run.done))


def wait_ready(
    engine: Engine,
    desired: DesiredState,
    container_ids: Mapping[str, str],
    *,
    timeout_s: float,
    reporter: Reporter,
    now: Clock = time.monotonic,
) -> None:
    """Wait until every given container is healthy (running without a healthcheck)."""
    fake = Plan(desired, ())
    run = _Run(fake, engine, reporter, timeout_s, None, now)
    run.ids.update(container_ids)
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="envkit") as pool:
        jobs = {s.name: partial(_wait_service_ready, run, s) for s in desired.services}
        try:
            failures = _run_all(run, pool, jobs, {})
        except BaseException:
            run.cancel.set()  # waits stop; calls in flight finish; nothing new starts
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if failures:
        raise _combine(failures)


# -- scheduling --------------------------------------------------------------------------


def _run_all(
    run: _Run,
    pool: ThreadPoolExecutor,
    jobs: Mapping[str, Callable[[], None]],
    deps: Mapping[str, set[str]],
) -> list[EnvkitError]:
    """Run jobs respecting ``deps`` (job -> jobs it needs), as many at once as the pool
    allows. A job whose dependency failed is skipped. Returns the failures."""
    pending = dict(jobs)
    running: dict[Future[None], str] = {}
    finished: set[str] = set()
    failed: dict[str, EnvkitError] = {}
    while pending or running:
        progress = True
        while progress:  # skip, transitively, whatever depends on a failure
            progress = False
            for name in list(pending):
                bad = sorted(deps.get(name, set()) & failed.keys())
                if bad:
                    failed[name] = ApplyError(
                        f"{name} not started: its dependency {bad[0]} failed",
                        code="dependency-failed",
                    )
                    del pending[name]
                    run.reporter.step(name, f"not started (dependency {bad[0]} failed)")
                    progress = True
        for name in list(pending):
            if deps.get(name, set()) & jobs.keys() <= finished:
                run.check()
                running[pool.submit(pending.pop(name))] = name
        if not running:
            if pending:  # a cycle; the schema and normalize reject them, so be brief
                raise ApplyError(f"dependency cycle among: {', '.join(sorted(pending))}")
            break
        # A timeout, so Ctrl-C is seen promptly even where a blocked wait is not interrupted.
        done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
        for fut in done:
            name = running.pop(fut)
            exc = fut.exception()
            if exc is None:
                finished.add(name)
            elif isinstance(exc, ApplyError | EngineError) and not isinstance(
                exc, EngineUnavailable
            ):
                failed[name] = exc
                run.reporter.step(name, f"failed: {exc.message}")
            else:
                raise exc
    first = [e for e in failed.values() if e.code != "dependency-failed"]
    return first + [e for e in failed.values() if e.code == "dependency-failed"]


def _combine(failures: list[EnvkitError]) -> EnvkitError:
    """One failure is raised as itself (an ApplyError with logs, or e.g. ImageNotFound),
    with the services it kept from starting added to its detail; several failures become
    one ApplyError listing them all."""
    real = [f for f in failures if f.code != "dependency-failed"] or failures
    skipped = [f.message for f in failures if f not in real]
    if len(real) == 1:
        err = real[0]
        if skipped:
            err.detail = "\n".join([*filter(None, [(err.detail or "").rstrip("\n")]), *skipped])
        return err
    detail = "\n".join(
        f.message + ("\n" + f.detail.rstrip("\n") if f.detail else "") for f in failures
    )
    return ApplyError(
        f"{len(real)} services failed: " + "; ".join(f.message for f in real),
        hint=real[0].hint,
        detail=detail,
    )


# -- infrastructure ------------------------------------------------------------------------


def _apply_infra(run: _Run) -> None:
    desired = run.desired
    for change in run.plan.changes:
        if change.kind is ResourceKind.NETWORK and change.action is Action.CREATE:
            run.reporter.step(change.name, "creating network")
            run.engine.create_network(change.name, project_labels(desired, expires=run.expires))
            run.record(change.name, Action.CREATE)
        elif change.kind is ResourceKind.VOLUME and change.action is Action.CREATE:
            spec = next(
                (v for v in desired.volumes if desired.volume_name(v.name) == change.name), None
            )
            labels = dict(spec.labels) if spec else {}
            labels.update(project_labels(desired, expires=run.expires))
            if spec:
                labels[LABEL.VOLUME] = spec.name
            run.reporter.step(change.name, "creating volume")
            run.engine.create_volume(
                change.name,
                labels,
                driver=spec.driver if spec else "local",
                driver_opts=dict(spec.driver_opts) if spec else None,
            )
            run.record(change.name, Action.CREATE)
        elif change.kind is ResourceKind.VOLUME and change.action is Action.REMOVE:
            # Named volumes go only with `down --volumes`, whatever a plan says.
            run.reporter.step(change.name, "kept (volumes are removed only by down --volumes)")


# -- containers ----------------------------------------------------------------------------


def _remove(run: _Run, change: Change) -> None:
    before = change.before
    if before is None:
        return
    run.check()
    run.reporter.step(change.name, "stopping")
    run.engine.stop_container(before.id, stop_grace_s(before.spec))
    run.engine.remove_container(before.id)
    run.reporter.step(change.name, "removed")
    run.record(change.name, Action.REMOVE)


def _port_holders(changes: list[Change]) -> list[Change]:
    """Recreates whose old container holds a host port that another container of this
    apply will publish (a port moved from one service to another, or two swapped). They
    cannot wait for their turn in dependency order: the other service may start first, or
    each may wait for the other's port. So their old containers go with the removals."""
    wanted = [
        (c.name, p.host_ip, p.published, p.protocol)
        for c in changes
        if c.action in (Action.CREATE, Action.RECREATE) and c.after is not None
        for p in c.after.ports
        if p.published is not None
    ]
    wildcard = {"", "0.0.0.0", "::"}
    return [
        c
        for c in changes
        if c.action is Action.RECREATE
        and c.before is not None
        and any(
            name != c.name
            and (port, proto) == (b.host_port, b.protocol)
            and (ip in wildcard or b.host_ip in wildcard or ip == b.host_ip)
            for b in c.before.ports
            for name, ip, port, proto in wanted
        )
    ]


def _release(run: _Run, change: Change) -> None:
    """Stop and remove the old container of a recreate early (see _port_holders), once its
    new image is at hand; the recreate then only creates and starts."""
    assert change.before is not None and change.after is not None
    run.ensure_image(change.after)
    run.check()
    run.reporter.step(change.name, "stopping (recreate; its host port moves)")
    run.engine.stop_container(change.before.id, stop_grace_s(change.before.spec))
    run.engine.remove_container(change.before.id)
    with run.lock:
        run.released.add(change.name)


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
    return _run_all(run, pool, jobs, deps)


def _service(run: _Run, spec: ServiceSpec, changes: list[Change]) -> None:
    for dep in spec.depends_on:
        if any(s.name == dep.service for s in run.desired.services):
            _wait_condition(run, spec.name, dep.service, dep.condition)
    for change in sorted(changes, key=lambda c: c.replica or 0):
        run.check()
        _container(run, spec, change)


def _container(run: _Run, spec: ServiceSpec, change: Change) -> None:
    action = change.action
    after = change.after or spec
    replica = change.replica or 1
    if action is Action.NOOP:
        return
    if action is Action.START:
        assert change.before is not None
        cid = change.before.id
        run.reporter.step(change.name, "starting")
    else:
        run.ensure_image(after)  # a pull or build reports its own output lines
        run.check()
        with run.lock:
            released = change.name in run.released
        if action is Action.RECREATE and change.before is not None and not released:
            run.reporter.step(change.name, "stopping (recreate)")
            run.engine.stop_container(change.before.id, stop_grace_s(change.before.spec))
            run.engine.remove_container(change.before.id)
            run.check()
        labels = container_labels(run.desired, after, replica, expires=run.expires)
        cid = run.engine.create_container(run.desired, after, replica, labels)
        run.remember(change.name, cid)
        run.reporter.step(change.name, "created")
    run.engine.start_container(cid)
    with run.lock:
        run.started[change.name] = run.now()
    run.record(change.name, action)
    run.reporter.step(change.name, "started")


def _exited_after_start(run: _Run) -> list[EnvkitError]:
    """The containers this apply started that exited with a non-zero code within
    START_SETTLE_S of their start: wait out the settle time of the last one, then one list
    call (the engine reports the exit a few hundred ms after the start returned, so a
    check right after each start would race with it)."""
    with run.lock:
        started = dict(run.started)
    if not started:
        return []
    remaining = max(started.values()) + START_SETTLE_S - run.now()
    if remaining > 0:
        run.sleep(remaining)
    listed = run.engine.list_containers({LABEL.PROJECT: run.desired.project})
    failures: list[EnvkitError] = []
    for c in sorted(listed, key=lambda c: c.name):
        if c.name in started and c.state in ("exited", "dead") and c.exit_code != 0:
            status = ContainerStatus(c.state, c.health, c.exit_code)
            code = "?" if c.exit_code is None else c.exit_code
            failures.append(
                _failure(run, c.name, c.id, f"exited with code {code} right after start", status)
            )
    return failures


# -- waiting -----------------------------------------------------------------------------


def _service_container_ids(run: _Run, service: str) -> list[tuple[str, str]]:
    prefix = f"{run.desired.project}-{service}-"
    with run.lock:
        found = [
            (n, i)
            for n, i in run.ids.items()
            if n.startswith(prefix) and n[len(prefix) :].isdigit()
        ]
    if found:
        return sorted(found)
    listed = run.engine.list_containers(
        {LABEL.PROJECT: run.desired.project, LABEL.SERVICE: service}
    )
    return sorted((c.name, c.id) for c in listed)


_GOALS = {
    Condition.STARTED: "started",
    Condition.HEALTHY: "healthy",
    Condition.COMPLETED: "completed successfully",
}


def _wait_condition(run: _Run, waiter: str, service: str, condition: Condition) -> None:
    why = f"{waiter} waits for it (depends_on condition {condition.value})"
    for name, cid in _service_container_ids(run, service):
        run.reporter.step(waiter, f"waiting for {name} ({condition.value})")
        _poll(run, name, cid, partial(_meets, condition=condition), _GOALS[condition], why)


def _wait_service_ready(run: _Run, spec: ServiceSpec) -> None:
    for name, cid in _service_container_ids(run, spec.name):
        started = run.started.get(name)
        settled = None if started is None else started + SETTLE_S
        _poll(run, name, cid, partial(_ready, settled=settled, now=run.now), "healthy")
        status = run.engine.status(cid)
        done = status.state in ("exited", "dead")
        run.reporter.step(name, "completed" if done else "ready")


def _ready(status: ContainerStatus, *, settled: float | None, now: Clock) -> bool | str:
    if status.state in ("exited", "dead"):
        # A one-shot service (a migration, a seed job) that finished successfully is done.
        return True if status.exit_code == 0 else f"exited with code {status.exit_code}"
    if status.health == "unhealthy":
        return "is unhealthy"
    if status.state == "running" and status.health is None:
        return settled is None or now() >= settled
    return status.state == "running" and status.health == "healthy"


def _meets(status: ContainerStatus, condition: Condition) -> bool | str:
    """True when met, False to keep waiting, a reason string when it never will be."""
    exited = status.state in ("exited", "dead")
    if condition is Condition.COMPLETED:
        if exited:
            return True if status.exit_code == 0 else f"exited with code {status.exit_code}"
        return False
    if condition is Condition.HEALTHY:
        if exited:
            return f"exited with code {status.exit_code} before becoming healthy"
        if status.health == "unhealthy":
            return "is unhealthy"
        if status.state == "running" and status.health is None:
            return "has no healthcheck, so it can never be healthy"
        return status.health == "healthy"
    if exited:  # STARTED
        return True if status.exit_code == 0 else f"exited with code {status.exit_code}"
    return status.state == "running"


def _poll(
    run: _Run,
    name: str,
    cid: str,
    check: Callable[[ContainerStatus], bool | str],
    goal: str,
    why: str | None = None,
) -> None:
    """Poll ``cid`` until ``check`` says True; a reason string or the timeout fails it.
    ``why`` (who waits, on what condition) is added to the failure's message."""
    deadline = run.now() + run.timeout_s
    suffix = f"; {why}" if why else ""
    while True:
        run.check()
        status = run.engine.status(cid)
        verdict = check(status)
        if verdict is True:
            return
        if isinstance(verdict, str):
            raise _failure(run, name, cid, verdict + suffix, status)
        if run.now() >= deadline:
            raise _failure(
                run,
                name,
                cid,
                f"not {goal} after {run.timeout_s:g}s (state {status.state}"
                + (f", health {status.health})" if status.health else ")")
                + suffix,
                status,
                code="timeout",
            )
        run.sleep()


def _failure(
    run: _Run, name: str, cid: str, what: str, status: ContainerStatus, code: str | None = None
) -> ApplyError:
    try:
        logs = run.engine.logs(cid, tail=LOG_TAIL)
    except EngineError as exc:
        logs = f"(logs unavailable: {exc.message})"
    lines = [f"--- last {LOG_TAIL} log lines of {name} ---"]
    lines += [f"  | {line}" for line in logs.splitlines()[-LOG_TAIL:]] or ["  (no output)"]
    if status.health_log:
        lines.append(f"--- health log of {name} ---")
        lines += [f"  | {line}" for line in status.health_log]
    service = name.removeprefix(run.desired.project + "-").rsplit("-", 1)[0]
    return ApplyError(
        f"{name} {what}",
        detail="\n".join(lines),
        hint=f"`envkit logs {run.desired.environment} {service}` shows the whole log; "
        "fix the service and run `envkit up` again",
        code=code,
    )

"""Waiting for containers: dependency conditions, readiness, and failures with their logs.

A service waits for each dependency's containers to meet its ``depends_on`` condition
(started, healthy, completed successfully); ``wait`` waits for every container to be ready
(healthy; without a healthcheck: running, and for SETTLE_S after this apply started it; a
one-shot job: exited 0). Every wait polls the engine, is bounded by ``timeout_s`` and stops
at Ctrl-C. A poll reads one list of the project's containers, shared by the waits polling
at the same moment (not one inspect per container); a container the list does not show
running is inspected, for its exact exit code, health and health log. A wait that fails raises an :class:`~envkit.errors.ApplyError` carrying the
container's last log lines and health log, so the cause is in the error itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from functools import partial

from envkit.engine.base import ContainerStatus, Engine, ObservedContainer
from envkit.errors import ApplyError, EngineError, EnvkitError
from envkit.model import LABEL, Condition, DesiredState, ServiceSpec, is_oneoff
from envkit.progress import Kind, Outcome, Reporter, Subject, failing
from envkit.reconcile.scheduling import Cancelled, in_pool, run_jobs

__all__ = [
    "LOG_TAIL",
    "POLL_S",
    "SETTLE_S",
    "START_SETTLE_S",
    "Clock",
    "Waits",
    "exited_after_start",
    "failure",
    "wait_all_ready",
    "wait_condition",
    "wait_ready",
    "wait_service_ready",
]

Clock = Callable[[], float]
LOG_TAIL = 20
POLL_S = 0.1
# A list of the project's containers serves every poll made within this long of it.
SHARE_S = POLL_S / 2
# `wait` on a container without a healthcheck: "ready" means it stayed running this long
# after this apply started it, so one that exits at once is not reported ready.
SETTLE_S = 1.0
# Without `wait`: a container that exits (non-zero) this soon after its start failed to
# start, and apply says so with its logs. One list call after the last start, not a poll.
START_SETTLE_S = 0.3


class Waits:
    """What waiting needs from a run: the engine, the desired state, the ids of the
    containers and when this run started them, the bound, the clock and Ctrl-C."""

    def __init__(
        self,
        engine: Engine,
        desired: DesiredState,
        reporter: Reporter,
        timeout_s: float,
        now: Clock,
    ) -> None:
        self.engine = engine
        self.desired = desired
        self.reporter = reporter
        self.timeout_s = timeout_s
        self.now = now
        self.cancel = threading.Event()
        self.lock = threading.Lock()
        self.ids: dict[str, str] = {}  # container name -> id
        self.started: dict[str, float] = {}  # container name -> when this run started it
        self._list_lock = threading.Lock()
        self._listed: dict[str, ContainerStatus] = {}  # id -> status, running ones
        self._listed_at = float("-inf")

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled

    def sleep(self, seconds: float = POLL_S) -> None:
        if self.cancel.wait(seconds):
            raise Cancelled

    def status(self, cid: str) -> ContainerStatus:
        """The container's status for one poll. One list call serves every poll made
        within SHARE_S of it. The list is trusted only for a running container (its status
        text then carries the health exactly); any other state is inspected."""
        with self._list_lock:
            if self.now() - self._listed_at >= SHARE_S:
                self._listed_at = self.now()
                listed = self.engine.list_containers({LABEL.PROJECT: self.desired.project})
                self._listed = {
                    c.id: ContainerStatus(c.state, c.health, None)
                    for c in listed
                    if c.state == "running"
                }
            found = self._listed.get(cid)
        return self.engine.status(cid) if found is None else found

    def with_health_log(self, cid: str, status: ContainerStatus) -> ContainerStatus:
        """``status`` with the health log, for a failure's message (a list carries none)."""
        if status.health_log or status.health is None:
            return status
        try:
            return replace(status, health_log=self.engine.status(cid).health_log)
        except EngineError:
            return status


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
    run = Waits(engine, desired, reporter, timeout_s, now)
    run.ids.update(container_ids)
    in_pool(8, run.cancel, partial(wait_all_ready, run))


def wait_all_ready(run: Waits, pool: ThreadPoolExecutor) -> list[EnvkitError]:
    """Every service's containers ready, in parallel; the failures."""
    jobs = {s.name: partial(wait_service_ready, run, s) for s in run.desired.services}
    return run_jobs(pool, jobs, {}, reporter=run.reporter, check=run.check)


def _service_container_ids(run: Waits, service: str) -> list[tuple[str, str]]:
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
    return sorted((c.name, c.id) for c in listed if not is_oneoff(c.labels))


_GOALS = {
    Condition.STARTED: "started",
    Condition.HEALTHY: "healthy",
    Condition.COMPLETED: "completed successfully",
}


def wait_condition(
    run: Waits, waiters: Sequence[Subject], service: str, condition: Condition
) -> None:
    """Wait until every container of ``service`` meets ``condition`` (the ``waiters``, the
    containers of a service that depends on it, are told what they wait for)."""
    who = sorted({w.service or w.name for w in waiters}) or ["a dependent service"]
    why = f"{', '.join(who)} waits for it (depends_on condition {condition.value})"
    for name, cid in _service_container_ids(run, service):
        for waiter in waiters:
            run.reporter.step(waiter, f"waiting for {name} ({condition.value})")
        _poll(run, name, cid, partial(_meets, condition=condition), _GOALS[condition], why)


def wait_service_ready(run: Waits, spec: ServiceSpec) -> None:
    """Wait until every container of ``spec`` is ready (see the module docstring)."""
    for name, cid in _service_container_ids(run, spec.name):
        it = Subject(Kind.CONTAINER, name, spec.name)
        started = run.started.get(name)
        settled = None if started is None else started + SETTLE_S
        check = partial(_ready, settled=settled, now=run.now)
        run.reporter.step(it, "waiting until ready")
        with failing(run.reporter, [it]):
            status = _poll(run, name, cid, check, "healthy", wake=settled)
        if status.state in ("exited", "dead"):
            run.reporter.step(it, "completed", Outcome.COMPLETED)
        else:
            healthy = status.health == "healthy"
            run.reporter.step(it, "ready", Outcome.HEALTHY if healthy else Outcome.READY)


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
    run: Waits,
    name: str,
    cid: str,
    check: Callable[[ContainerStatus], bool | str],
    goal: str,
    why: str | None = None,
    *,
    wake: float | None = None,
) -> ContainerStatus:
    """Poll ``cid`` until ``check`` says True; return the status that met it. A reason
    string or the timeout fails it. ``why`` (who waits, on what condition) is added to the
    failure's message. ``wake``: a moment to poll at (a settle time ending between polls)."""
    deadline = run.now() + run.timeout_s
    suffix = f"; {why}" if why else ""
    while True:
        run.check()
        status = run.status(cid)
        verdict = check(status)
        if verdict is True:
            return status
        if isinstance(verdict, str):
            raise failure(run, name, cid, verdict + suffix, run.with_health_log(cid, status))
        if run.now() >= deadline:
            status = run.with_health_log(cid, status)
            raise failure(
                run,
                name,
                cid,
                f"not {goal} after {run.timeout_s:g}s (state {status.state}"
                + (f", health {status.health})" if status.health else ")")
                + suffix,
                status,
                code="timeout",
            )
        pause = POLL_S
        if wake is not None and run.now() < wake:
            pause = min(pause, wake - run.now())
        run.sleep(pause)


def exited_after_start(
    run: Waits,
) -> tuple[list[EnvkitError], list[ObservedContainer] | None]:
    """The containers this run started that exited with a non-zero code within
    START_SETTLE_S of their start: wait out the settle time of the last one, then one list
    call (the engine reports the exit a few hundred ms after the start returned, so a
    check right after each start would race with it). Also returns that list, the
    project's containers after the settle time (None when this run started nothing)."""
    with run.lock:
        started = dict(run.started)
    if not started:
        return [], None
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
                failure(run, c.name, c.id, f"exited with code {code} right after start", status)
            )
    return failures, listed


def failure(
    run: Waits, name: str, cid: str, what: str, status: ContainerStatus, code: str | None = None
) -> ApplyError:
    """``{name} {what}``, with the container's last log lines and health log."""
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

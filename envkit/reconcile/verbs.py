"""The reconciler's two verbs, shared by the CLI, the Python API and the pytest plugin.

``up``: under the instance's lock and the reservations of its fixed host ports
(``envkit.reconcile.portlock``), observe -> plan -> (refuse on conflicts) -> renew the
lease when given an expiry (``envkit.reconcile.expiry``) -> apply -> observe again and
check that what runs is what was planned (that read overlaps the start check's settle
time; the containers' states come from the start check's list, made after it). ``down``:
under the same lock, remove the instance. Neither prints: the plan is handed to
``on_plan`` and progress goes to the reporter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

from envkit.canonical import project_labels
from envkit.engine.base import Engine, ObservedContainer, ObservedState
from envkit.errors import ApplyError, EnvkitError, PlanConflict
from envkit.model import LABEL, DesiredState
from envkit.progress import Kind, NullReporter, Outcome, Reporter, Subject, failing
from envkit.reconcile.apply import ApplyResult, apply, report_unchanged
from envkit.reconcile.changes import Action, Plan
from envkit.reconcile.expiry import is_lease, lease_labels, lease_name
from envkit.reconcile.lock import instance_lock
from envkit.reconcile.plan import plan
from envkit.reconcile.portlock import fixed_ports, port_locks
from envkit.reconcile.pullcheck import with_pull_check
from envkit.reconcile.scope import scope_desired, scope_observed
from envkit.reconcile.teardown import DownResult, remove_instance
from envkit.secretkey import with_secret_key

__all__ = ["UpResult", "conflict_error", "down", "refresh_images", "up"]


@dataclass(frozen=True, slots=True)
class UpResult:
    plan: Plan
    applied: ApplyResult | None  # None when there was nothing to do
    containers: tuple[ObservedContainer, ...]  # the instance's containers afterwards
    not_running: tuple[str, ...] = ()  # containers that exited after start (not one-shots)
    expires: str | None = None  # the instance's expiry when up was given one


def conflict_error(p: Plan) -> PlanConflict:
    lines = [
        f"  error[{c.code}]: {c.message}" + (f"\n    hint: {c.hint}" if c.hint else "")
        for c in p.conflicts
    ]
    n = len(p.conflicts)
    return PlanConflict(
        f"{p.project}: the plan has {n} conflict{'s' if n != 1 else ''}; nothing was changed",
        conflicts=[
            {"code": c.code, "message": c.message, "hint": c.hint, "service": c.service}
            for c in p.conflicts
        ],
        detail="\n".join(lines),
        hint="resolve the conflicts above, then run the command again",
    )


def up(
    desired: DesiredState,
    engine: Engine,
    *,
    reporter: Reporter | None = None,
    wait: bool = False,
    timeout_s: float = 300.0,
    lock_timeout_s: float = 600.0,
    on_lock_wait: Callable[[str], None] | None = None,
    on_plan: Callable[[Plan], None] | None = None,
    expires: str | None = None,
    verify: Callable[[Plan, ObservedState], None] | None = None,
    renew_anon_volumes: bool = False,
    services: frozenset[str] | None = None,
) -> UpResult:
    """``verify``: called under the lock with the plan and what it was made from, before
    anything changes; it raises to refuse (``up --plan``: a saved plan that is stale).
    ``renew_anon_volumes``: recreated containers start with fresh anonymous volumes
    (``envkit.reconcile.anonymous``). ``services``: only these (with what they depend on:
    the caller widens it with :func:`~envkit.reconcile.scope.with_dependencies`); the
    instance's other containers are neither planned nor pruned."""
    reporter = reporter or NullReporter()
    if services is not None:
        desired = scope_desired(desired, services)
    desired = with_secret_key(desired)
    with (
        instance_lock(
            desired.project,
            engine_id=engine.identity,
            timeout_s=lock_timeout_s,
            on_wait=on_lock_wait,
        ),
        port_locks(
            fixed_ports(desired),
            project=desired.project,
            engine_id=engine.identity,
            timeout_s=lock_timeout_s,
            on_wait=on_lock_wait,
        ),
    ):
        refresh_images(desired, engine, reporter)
        observed = _observe(engine, desired, services)
        p = plan(desired, observed, renew_anon_volumes=renew_anon_volumes)
        if verify is not None:
            verify(p, observed)
        if p.conflicts:
            raise conflict_error(p)
        if on_plan is not None:
            on_plan(p)
        if expires is not None:
            _renew_lease(engine, desired, observed, expires)
        applied = None
        read_back: list[ObservedState] = []  # the engine after the apply, read while settling
        if p.has_changes or wait:
            try:
                applied = apply(
                    p,
                    engine,
                    reporter,
                    wait=wait,
                    timeout_s=timeout_s,
                    expires=expires,
                    present_images=observed.images,
                    while_settling=lambda: read_back.append(_observe_all(engine, desired)),
                )
            except EnvkitError as exc:
                if _lost_a_port_race(exc, observed):
                    _roll_back(desired, engine, reporter, exc)
                raise
        else:
            report_unchanged(p, reporter)
        not_running: list[str] = []
        containers = observed.containers  # read under the lock just now: no second list
        if p.has_changes:
            # What runs must be what was planned: read the engine again and plan again.
            # Without ``wait`` that read overlapped the start check's settle time, and the
            # containers' states are the start check's list, made once it was over.
            after_all = read_back[0] if read_back else _observe_all(engine, desired)
            if applied is not None and applied.settled is not None:
                listed = sorted(applied.settled, key=lambda c: c.name)
                after_all = replace(after_all, containers=tuple(listed))
            observed_after = after_all if services is None else scope_observed(after_all, services)
            containers = observed_after.containers
            after = plan(desired, observed_after)
            drift = [c for c in after.changes if c.action not in (Action.NOOP, Action.START)]
            if drift or after.conflicts:
                from envkit.reconcile.present import plan_text

                raise ApplyError(
                    f"{desired.project}: after apply the engine still differs from the stack",
                    detail=plan_text(after),
                    hint="run 'envkit up' again; if it persists, report it with --debug output",
                )
            not_running = [c.name for c in after.changes if c.action is Action.START]
        elif wait:  # states and health moved on while waiting
            containers = tuple(engine.list_containers({LABEL.PROJECT: desired.project}))
    return UpResult(p, applied, tuple(containers), tuple(not_running), expires)


def _lost_a_port_race(exc: EnvkitError, observed: ObservedState) -> bool:
    """Whether apply failed because the engine gave a host port to someone else after the
    plan saw it free (another user's envkit, or any other client: the port reservations
    only exclude this user's runs), on an instance this ``up`` made from nothing."""
    fresh = not (observed.containers or observed.networks or observed.volumes)
    text = f"{exc.message}\n{exc.detail or ''}"
    return fresh and "port is already allocated" in text


def _roll_back(desired: DesiredState, engine: Engine, reporter: Reporter, exc: EnvkitError) -> None:
    """Remove what this ``up`` made of a new instance (everything it has: nothing existed
    before), so a lost port race leaves nothing half-built, and say so in the error."""
    try:
        remove_instance(desired, engine, volumes=True, reporter=reporter)
    except EnvkitError as failed:
        exc.hint = (
            f"a host port was taken by someone else after the plan; rolling the new "
            f"instance back failed too ({failed.message}): run 'envkit down' for it"
        )
        return
    exc.message += (
        "; a host port was taken by someone else after the plan saw it free, so the new "
        "instance was rolled back (nothing of it is left)"
    )
    exc.code = "port-in-use"
    holders = [
        c for c in plan(desired, engine.observe(desired)).conflicts if c.code == "port-in-use"
    ]
    if holders:  # who won it, as the plan would have said
        exc.detail = "\n".join(
            [*filter(None, [(exc.detail or "").rstrip("\n")]), *(f"  {c.message}" for c in holders)]
        )
    exc.hint = "publish another host port for this environment, or free this one and retry"


def _observe_all(engine: Engine, desired: DesiredState) -> ObservedState:
    """The whole instance as the engine has it now, with what pulls would fail."""
    return with_pull_check(desired, engine, engine.observe(desired))


def _observe(
    engine: Engine, desired: DesiredState, services: frozenset[str] | None
) -> ObservedState:
    observed = _observe_all(engine, desired)
    return observed if services is None else scope_observed(observed, services)


def _renew_lease(
    engine: Engine, desired: DesiredState, observed: ObservedState, expires: str
) -> None:
    """Point the instance's lease at ``expires`` (``envkit.reconcile.expiry``): labels cannot change,
    so an existing lease is replaced. Under the instance lock, so gc (which takes the same
    lock and reads the lease again) never sees the gap between remove and create."""
    name = lease_name(desired.project)
    for vol in observed.volumes:
        if vol.name == name and is_lease(vol.labels):
            if vol.labels.get(LABEL.EXPIRES) == expires:
                return
            engine.remove_volume(name)
    engine.create_volume(name, lease_labels(project_labels(desired), expires))


def refresh_images(desired: DesiredState, engine: Engine, reporter: Reporter) -> None:
    """Pull every image whose service has ``pull_policy: always`` (or a refresh policy,
    daily, weekly, every_<duration>, whose window has passed), before planning: the
    planner (pure) then sees the registry's current image as the local image id, so an
    image updated under the same tag shows as a change (and recreates only its services).
    ``plan`` and ``up`` both do it; a registry that cannot be reached fails here, before
    anything changes."""
    from envkit.model import PullPolicy, pull_policy_text

    seen: set[str] = set()
    for spec in desired.services:
        wanted = spec.pull_policy in (PullPolicy.ALWAYS, PullPolicy.REFRESH)
        if wanted and spec.image not in seen and engine.pull_due(spec):
            seen.add(spec.image)
            image = Subject(Kind.IMAGE, spec.image)
            reporter.step(image, f"pulling (pull_policy: {pull_policy_text(spec)})")
            with failing(reporter, [image]):
                engine.refresh_image(spec, on_output=partial(reporter.output, image))
            reporter.step(image, "pulled", Outcome.PULLED)


def down(
    desired: DesiredState | str,
    engine: Engine,
    *,
    volumes: bool = False,
    reporter: Reporter | None = None,
    lock_timeout_s: float = 600.0,
    on_lock_wait: Callable[[str], None] | None = None,
    services: frozenset[str] | None = None,
) -> DownResult:
    """``services``: remove only their containers (the network and volumes stay)."""
    project = desired if isinstance(desired, str) else desired.project
    with instance_lock(
        project, engine_id=engine.identity, timeout_s=lock_timeout_s, on_wait=on_lock_wait
    ):
        return remove_instance(
            desired,
            engine,
            volumes=volumes,
            reporter=reporter or NullReporter(),
            services=services,
        )

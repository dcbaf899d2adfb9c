"""plan(desired, observed) -> Plan: a pure function, no I/O, no docker import.

A Plan is a value (Terraform's ``Change{action, before, after}``): it can be printed,
serialized, tested and applied later. Reasons explain it to people; apply never branches
on them.

Rules, per desired container ``{project}-{service}-{n}`` (n = 1..replicas):

- none observed -> CREATE;
- spec hash and image id unchanged: running (or restarting) -> NOOP; exited with
  code 0 under restart "no" -> NOOP (a one-shot job that completed: ``up`` twice does not
  re-run a migration); created or otherwise exited -> START; paused (``envkit pause``)
  -> START, which apply carries out as an unpause; dead -> RECREATE;
- the container is not attached to the project network, or attached to an older network of
  that name (:func:`~envkit.reconcile.drift.network_drift`, as Compose's
  ``checkExpectedNetworks``), or runs another command than its spec gives
  (:func:`~envkit.reconcile.drift.command_drift`: made by hand with copied labels) ->
  RECREATE (a completed one-shot job is left alone: it needs no network any more);
- spec hash changed -> RECREATE, with :attr:`Change.diffs` = the field-level differences
  (records, :class:`~envkit.reconcile.spec_diff.FieldDiff`) of the recorded spec label and
  :func:`~envkit.canonical.canonical_spec`; image id behind the tag changed -> RECREATE, with a
  reason.
- a container labelled by the previous spec hash version (``v1-``) is compared under that
  version's rules (:mod:`envkit.reconcile.legacy`): still equal -> kept, so an upgrade of
  envkit recreates nothing;
- a spec whose sensitive values were hashed under another key (``secret_key_id``) ->
  RECREATE with the reason :data:`OTHER_KEY`: whether a secret changed cannot be told. An image that is not present locally is compared with nothing (it will be
  pulled or built at apply, or, when a container must be created from it, an
  ``image-missing`` conflict under pull_policy never and an ``image-unavailable`` one when
  ``observed.unpullable`` says its registry cannot give it: :mod:`envkit.reconcile.pullcheck`).

Containers of the project that the stack no longer has (service removed, replica above
the desired count, a second container claiming the same service and replica) -> REMOVE.
Containers of other projects are never planned. Missing network and non-external named
volumes -> CREATE; volumes are never removed by a plan.

Order of :attr:`Plan.changes`: container removals first (they free names and host ports),
by name; then the network; then volumes in declared order; then every desired container
(NOOP included) in dependency order (topological over ``depends_on``, declared order as
tie-break), replicas ascending. NOOP changes exist only for containers.

Conflicts are found here, never half-way through apply: a name taken by an object envkit
does not own (``name-taken``), a host port held by something else (``port-in-use``), an
image missing under pull_policy never (``image-missing``) or missing and not pullable
(``image-unavailable``), an external volume that does not
exist (``volume-missing``). An external volume exists when the observer reports it in
``observed.volumes`` or in ``observed.foreign_names``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from envkit.canonical import spec_hash
from envkit.engine.base import ObservedContainer, ObservedState
from envkit.model import (
    DEFAULT_NETWORK,
    DesiredState,
    PullPolicy,
    ResourceKind,
    Secrets,
    ServiceNetwork,
    ServiceSpec,
    is_oneoff,
)
from envkit.reconcile.anonymous import carried_volumes
from envkit.reconcile.bindcheck import bind_notes, bind_problems
from envkit.reconcile.changes import Action, Change, Conflict, Plan
from envkit.reconcile.drift import COMMAND_CHANGED, command_drift, network_drift
from envkit.reconcile.initenv import PlanWarning, init_env_warnings
from envkit.reconcile.portcheck import Publisher, port_problems
from envkit.reconcile.spec_diff import OTHER_KEY, FieldDiff, spec_changes

__all__ = [
    "OTHER_KEY",
    "PlanWarning",
    "ResourceKind",
    "dependency_order",
    "plan",
]


def plan(
    desired: DesiredState, observed: ObservedState, *, renew_anon_volumes: bool = False
) -> Plan:
    """``renew_anon_volumes``: recreated containers get fresh anonymous volumes instead of
    the old containers' (``up -V``)."""
    project = desired.project
    ours = sorted(
        (c for c in observed.containers if c.project == project and not is_oneoff(c.labels)),
        key=lambda c: c.name,
    )
    slots = {
        desired.container_of(spec.name, n): (spec, n)
        for spec in desired.services
        for n in range(1, spec.replicas + 1)
    }
    current: dict[str, ObservedContainer] = {}
    removals: list[Change] = []
    for c in ours:
        slot = slots.get(c.name)
        if slot is not None and slot[0].name == c.service and slot[1] == c.replica:
            current[c.name] = c
        else:
            removals.append(_removal(desired, c))

    conflicts: list[Conflict] = []
    infra: list[Change] = []
    networks = [(n.name, desired.network_name(n.name), n.external) for n in desired.network_specs()]
    volumes = [(v.name, desired.volume_name(v.name), v.external) for v in desired.volumes]
    for kind, declared, present in (
        (ResourceKind.NETWORK, networks, {n.name for n in observed.networks}),
        (ResourceKind.VOLUME, volumes, {v.name for v in observed.volumes}),
    ):
        for key, name, external in declared:
            if name in present:
                continue
            if not external:
                net, vol = (key, None) if kind is ResourceKind.NETWORK else (None, key)
                infra.append(Change(kind, name, Action.CREATE, network=net, volume=vol))
                conflicts.extend(_name_taken(observed, name, kind.value))
            elif name not in observed.foreign_names:
                conflicts.append(_external_missing(kind, key, name))

    containers: list[Change] = []
    recreated: set[str] = set()
    for spec in dependency_order(desired.services):
        image_id = observed.images.get(spec.image)
        for n in range(1, spec.replicas + 1):
            name = desired.container_of(spec.name, n)
            before = current.get(name)
            expected = _expected_networks(desired, spec, observed)
            drift = network_drift(expected, before) if before else None
            change = _container_change(
                name,
                spec,
                n,
                before,
                image_id,
                desired.secrets,
                drift,
                pullable=spec.image not in observed.unpullable,
            )
            change = _restarted_with(change, spec, recreated)
            if change.action is Action.RECREATE:
                recreated.add(spec.name)
            if change.action is Action.RECREATE and change.before and not renew_anon_volumes:
                carried = carried_volumes(desired, change.before, spec)
                change = replace(change, carried=carried)
            if change.action is not Action.NOOP:
                change = replace(
                    change, reasons=(*change.reasons, *bind_notes(spec, observed.missing_binds))
                )
            containers.append(change)
            if change.action is Action.CREATE:
                conflicts.extend(_name_taken(observed, name, "container", spec.name))
        conflicts.extend(
            _image_conflicts(spec, image_id, containers, observed.unpullable.get(spec.image))
        )

    conflicts.extend(_port_conflicts(desired, observed, containers))
    starting = {c.service: c.after for c in containers if c.action is not Action.NOOP and c.after}
    conflicts.extend(
        Conflict(p.code, p.message, p.hint, p.service)
        for p in bind_problems(starting.values(), observed.missing_binds)
    )
    warnings = [
        w
        for spec in desired.services
        for w in init_env_warnings(
            desired,
            spec,
            (d for c in containers if c.service == spec.name for d in c.diffs),
            {v.name for v in observed.volumes} | set(observed.foreign_names),
        )
    ]
    return Plan(desired, (*removals, *infra, *containers), tuple(conflicts), tuple(warnings))


def _restarted_with(change: Change, spec: ServiceSpec, recreated: set[str]) -> Change:
    """Compose's ``depends_on.restart``: a running container whose dependency is recreated
    is recreated after it (envkit has no in-place restart; the recreate keeps volumes)."""
    if change.action not in (Action.NOOP, Action.START) or change.before is None:
        return change
    if change.reasons == ("completed",):  # a finished one-shot stays finished
        return change
    cause = next((d.service for d in spec.depends_on if d.restart and d.service in recreated), None)
    if cause is None:
        return change
    reason = f"its dependency {cause} is recreated (depends_on.{cause}.restart)"
    return replace(change, action=Action.RECREATE, reasons=(reason,))


def _expected_networks(
    desired: DesiredState, spec: ServiceSpec, observed: ObservedState
) -> dict[str, str | None]:
    """The networks ``spec``'s containers must be attached to: engine name -> the id the
    network has now (None: it does not exist and will be created; "": external, whose id
    envkit does not observe, so only the attachment is checked)."""
    if spec.network_mode:
        return {}
    ids = {n.name: n.id for n in observed.networks}
    external = {desired.network_name(n.name) for n in desired.networks if n.external}
    out: dict[str, str | None] = {}
    for joined in spec.networks or (ServiceNetwork(DEFAULT_NETWORK),):
        name = desired.network_name(joined.name)
        out[name] = "" if name in external else ids.get(name)
    return out


def dependency_order(services: Iterable[ServiceSpec]) -> list[ServiceSpec]:
    """Topological order over ``depends_on`` with declared order as tie-break. Dependencies
    on unknown services are ignored; a cycle (rejected earlier, by validation) falls back to
    declared order for the services on it."""
    pending = list(services)
    known = {s.name for s in pending}
    done: set[str] = set()
    out: list[ServiceSpec] = []
    while pending:
        ready = next(
            (
                s
                for s in pending
                if all(d.service in done or d.service not in known for d in s.depends_on)
            ),
            pending[0],
        )
        pending.remove(ready)
        done.add(ready.name)
        out.append(ready)
    return out


def _removal(desired: DesiredState, c: ObservedContainer) -> Change:
    names = {s.name: s for s in desired.services}
    spec = names.get(c.service)
    if spec is None:
        reason = "service removed from the stack"
    elif c.replica > spec.replicas or c.replica < 1:
        reason = f"replicas lowered to {spec.replicas}"
    else:
        reason = f"extra container for {c.service} replica {c.replica}"
    return Change(
        ResourceKind.CONTAINER,
        c.name,
        Action.REMOVE,
        service=c.service,
        replica=c.replica,
        before=c,
        reasons=(reason,),
    )


_RUNNING = frozenset({"running", "restarting"})
_STOPPED = frozenset({"created", "exited"})


def _container_change(
    name: str,
    spec: ServiceSpec,
    n: int,
    before: ObservedContainer | None,
    image_id: str | None,
    secrets: Secrets,
    network: FieldDiff | None = None,
    pullable: bool = True,
) -> Change:
    def change(action: Action, *reasons: str, diffs: tuple[FieldDiff, ...] = ()) -> Change:
        return Change(
            ResourceKind.CONTAINER, name, action, spec.name, n, before, spec, reasons, diffs=diffs
        )

    obtain = _obtain_reason(spec, image_id, pullable)
    if before is None:
        return change(Action.CREATE, *obtain)
    diffs: tuple[FieldDiff, ...] = ()
    reasons: list[str] = []
    if before.spec_hash != spec_hash(spec, secrets):
        diffs, spec_reasons = spec_changes(before, spec, secrets)
        reasons.extend(spec_reasons)
    elif command_drift(spec, before):
        reasons.append(COMMAND_CHANGED)
    if image_id is not None and before.image_id != image_id:
        reasons.append(
            f"image {spec.image} changed: {_short_id(before.image_id)} -> {_short_id(image_id)}"
        )
    if reasons or diffs:
        network_diffs = (network,) if network is not None else ()
        return change(Action.RECREATE, *reasons, *obtain, diffs=(*diffs, *network_diffs))
    if before.state == "exited" and before.exit_code == 0 and spec.restart == "no":
        return change(Action.NOOP, "completed")  # done: it needs no network any more
    if before.state == "paused":
        return change(Action.START, "paused, will be unpaused")
    if network is not None:
        return change(Action.RECREATE, *obtain, diffs=(network,))
    if before.state in _STOPPED:
        code = f" with code {before.exit_code}" if before.exit_code is not None else ""
        return change(Action.START, f"{before.state}{code}, will be started")
    if before.state in _RUNNING:
        return change(Action.NOOP)
    return change(Action.RECREATE, f"container is {before.state}", *obtain)


def _obtain_reason(spec: ServiceSpec, image_id: str | None, pullable: bool) -> tuple[str, ...]:
    if image_id is not None or spec.pull_policy is PullPolicy.NEVER:
        return ()
    if spec.build is not None or spec.pull_policy is PullPolicy.BUILD:
        return (f"image {spec.image} will be built",)
    if not pullable:
        return (f"image {spec.image} is missing locally, not pullable here",)
    return (f"image {spec.image} will be pulled",)


def _short_id(image_id: str) -> str:
    algo, _, digest = image_id.partition(":")
    return f"{algo}:{digest[:12]}" if digest else image_id[:12]


def _external_missing(kind: ResourceKind, key: str, name: str) -> Conflict:
    """An ``external: true`` network or volume the engine does not have."""
    what = kind.value
    return Conflict(
        f"{what}-missing",
        f"external {what} {name} ({what}s.{key}) does not exist",
        hint=f"create it (docker {what} create {name}) or drop 'external: true'",
    )


def _name_taken(
    observed: ObservedState, name: str, kind: str, service: str | None = None
) -> list[Conflict]:
    holder = observed.foreign_names.get(name)
    if holder is None:
        return []
    return [
        Conflict(
            "name-taken",
            f"the {kind} name {name} is taken by a {holder} that envkit does not manage",
            hint=f"remove or rename that {holder} (docker {holder} rm {name}), "
            "or use another instance (--instance ID)",
            service=service,
        )
    ]


def _image_conflicts(
    spec: ServiceSpec, image_id: str | None, changes: list[Change], unpullable: str | None
) -> list[Conflict]:
    """An image that a container to create needs, missing locally and not to be had:
    pull_policy never, or (``unpullable``: why) a registry that cannot give it."""
    if image_id is not None:
        return []
    if spec.pull_policy is not PullPolicy.NEVER and (unpullable is None or spec.build):
        return []
    needs_image = any(
        c.service == spec.name and c.action in (Action.CREATE, Action.RECREATE) for c in changes
    )
    if not needs_image:
        return []
    if spec.pull_policy is PullPolicy.NEVER:
        return [
            Conflict(
                "image-missing",
                f"image {spec.image} of service {spec.name} is not present on the engine "
                "and pull_policy is never",
                hint="load it (envkit bundle load FILE, or docker load) or build it, "
                "or set pull_policy: missing",
                service=spec.name,
            )
        ]
    return [
        Conflict(
            "image-unavailable",
            f"image {spec.image} of service {spec.name} is missing locally, not pullable "
            f"here: {unpullable}",
            hint="bring it in as a bundle (envkit bundle save ENV where it is, envkit bundle "
            "load FILE here) or docker load it, build it (build: in the stack), or make its "
            "registry reachable",
            service=spec.name,
        )
    ]


def _port_conflicts(
    desired: DesiredState, observed: ObservedState, changes: list[Change]
) -> list[Conflict]:
    publishers = [
        Publisher(c.name, c.service or "", c.after.ports, c.action is Action.NOOP)
        for c in changes
        if c.after is not None
    ]
    return [
        Conflict("port-in-use", p.message, hint=p.hint, service=p.service)
        for p in port_problems(desired.project, observed, publishers)
    ]

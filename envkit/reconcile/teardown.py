"""remove_instance(desired_or_project, runtime): remove an instance, touching only what
carries its labels. ``envkit.reconcile.verbs.down`` is the same under the instance lock.

Containers go first, dependents before what they depend on (reverse dependency order, each
layer in parallel), then the project network, then — only with ``volumes=True`` — the
project's volumes: named ones and the anonymous ones envkit made (``io.envkit.anonymous``);
without it every volume stays, anonymous ones too, as in Compose. Objects without this project's ``io.envkit.project`` label are
never touched (an external volume, a same-named container someone else made). Removing
what is already gone succeeds, so ``down`` twice is fine. Locking is the caller's job.

:func:`stop_and_remove` is the one way envkit takes a container away (teardown, and apply's
removals and recreates).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from envkit.engine.base import ContainerRuntime, Inventory, NetworkEndpoint, ObservedContainer
from envkit.errors import EngineError
from envkit.model import LABEL, DesiredState, ResourceKind
from envkit.progress import Kind, Outcome, Reporter, Subject, failing

__all__ = [
    "ENDPOINT_WAITS_S",
    "DownResult",
    "remove_instance",
    "remove_network",
    "stop_and_remove",
    "stop_grace_s",
]

# Told of each object as soon as it is gone: (kind, name).
OnRemoved = Callable[[ResourceKind, str], None]


class Runtime(ContainerRuntime, Inventory, Protocol):
    """What a teardown needs: container operations and label-filtered lists."""


DEFAULT_STOP_GRACE_S = 10.0
# Pauses between tries to remove a network whose endpoints the engine has not released yet
# (dockerd releases them asynchronously; at hundreds of containers it can keep one): 7.5 s.
ENDPOINT_WAITS_S = (0.25, 0.5, 0.75, 1.0, 2.0, 3.0)


@dataclass(frozen=True, slots=True)
class DownResult:
    project: str
    containers: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()


def stop_grace_s(spec_label: Mapping[str, Any]) -> float:
    """The stop grace period a container was created with (from its spec label)."""
    value = spec_label.get("stop_grace_period_s")
    return float(value) if isinstance(value, int | float) else DEFAULT_STOP_GRACE_S


def stop_and_remove(
    runtime: ContainerRuntime, container: ObservedContainer, *, volumes: bool = False
) -> None:
    """Stop ``container`` within the grace period it was created with, then remove it.
    Its volumes stay, anonymous ones too (a recreate carries them over, as Compose does);
    ``volumes`` (``down --volumes``) also removes the anonymous ones Docker made."""
    runtime.stop_container(container.id, stop_grace_s(container.spec))
    runtime.remove_container(container.id, volumes=volumes)


def _checked(project: str) -> str:
    """``project`` when it is an envkit project name (``{stack}-{env}[-{instance}]``)."""
    if not project.rpartition("-")[1]:
        raise ValueError(f"not an envkit project name: {project!r}")
    return project


def _layers(
    containers: list[ObservedContainer], desired: DesiredState | None
) -> list[list[ObservedContainer]]:
    """Removal layers: containers of services nobody depends on first, dependencies last.
    Services the desired state does not know (pruned, or no desired state) go first."""
    if desired is None:
        return [containers] if containers else []
    known = {s.name: s for s in desired.services}
    depth: dict[str, int] = {}

    def level(name: str, seen: frozenset[str] = frozenset()) -> int:
        # depth = longest chain of dependents above this service
        if name in depth:
            return depth[name]
        if name in seen:
            return 0
        users = [s.name for s in desired.services if any(d.service == name for d in s.depends_on)]
        depth[name] = 1 + max((level(u, seen | {name}) for u in users), default=0)
        return depth[name]

    layers: dict[int, list[ObservedContainer]] = {}
    for c in containers:
        layers.setdefault(level(c.service) if c.service in known else 0, []).append(c)
    return [layers[k] for k in sorted(layers)]


def remove_instance(
    target: DesiredState | str,
    runtime: Runtime,
    *,
    volumes: bool = False,
    reporter: Reporter,
    workers: int = 32,
    on_removed: OnRemoved | None = None,
    sleep: Callable[[float], None] = time.sleep,
    services: frozenset[str] | None = None,
) -> DownResult:
    """Remove the instance ``target`` (a desired state, or a project name when the stack is
    not at hand: then containers go in one parallel layer). ``workers`` is high because a
    stop mostly waits out the container's grace period, not the engine. ``on_removed`` is
    told of each object as it goes, so a caller knows what went even when a later removal
    fails and raises. ``services``: only the containers of these services (one-off ones
    included); the network and the volumes stay.

    Only what carries the project's label is listed, by the engine's label filter: a full
    observe would list every container, network and volume on the engine (to find names
    and ports others hold, which a removal does not need), and on a shared engine with
    hundreds of containers that list alone cost more than the removal of ten."""
    desired = target if isinstance(target, DesiredState) else None
    project = target.project if isinstance(target, DesiredState) else _checked(target)
    own = {LABEL.PROJECT: project}
    listed = sorted(runtime.list_containers(own), key=lambda c: c.name)

    def gone(kind: ResourceKind, name: str) -> None:
        if on_removed is not None:
            on_removed(kind, name)

    def remove(c: ObservedContainer) -> str:
        it = Subject(Kind.CONTAINER, c.name, c.service)
        reporter.step(it, "stopping")
        with failing(reporter, [it]):
            stop_and_remove(runtime, c, volumes=volumes)
        gone(ResourceKind.CONTAINER, c.name)
        reporter.step(it, "removed", Outcome.REMOVED)
        return c.name

    containers = [c for c in listed if services is None or c.service in services]
    removed: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="envkit-down") as pool:
        for layer in _layers(containers, desired):
            removed += pool.map(remove, sorted(layer, key=lambda c: c.name))

    if services is not None:
        return DownResult(project, tuple(removed))
    networks: list[str] = []
    for net in sorted(runtime.list_networks(own), key=lambda n: n.name):
        it = Subject(Kind.NETWORK, net.name)
        reporter.step(it, "removing network")
        with failing(reporter, [it]):
            remove_network(runtime, net.name, reporter=reporter, sleep=sleep)
        gone(ResourceKind.NETWORK, net.name)
        reporter.step(it, "removed", Outcome.REMOVED)
        networks.append(net.name)
    vols: list[str] = []
    for vol in sorted(runtime.list_volumes(own), key=lambda v: v.name):
        it = Subject(Kind.VOLUME, vol.name)
        if not volumes:
            reporter.step(it, "kept (use --volumes to remove)", Outcome.KEPT)
            continue
        reporter.step(it, "removing volume")
        with failing(reporter, [it]):
            runtime.remove_volume(vol.name)
        gone(ResourceKind.VOLUME, vol.name)
        reporter.step(it, "removed", Outcome.REMOVED)
        vols.append(vol.name)
    return DownResult(project, tuple(removed), tuple(networks), tuple(vols))


def remove_network(
    runtime: ContainerRuntime,
    name: str,
    *,
    reporter: Reporter,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Remove the instance's network once its containers are gone. The engine may still
    hold endpoints of removed containers for a while, or for good (a stale endpoint, seen
    at 300 services): wait for their release with bounded retries (``ENDPOINT_WAITS_S``),
    then force-disconnect the stale ones (their container no longer exists, so they can
    only be this instance's), then try once more. An endpoint of a container that exists
    (someone attached their own container to this network) is never touched: the error
    names it and says how to finish."""
    endpoints: tuple[NetworkEndpoint, ...] = ()
    for pause in (*ENDPOINT_WAITS_S, None):
        if _removed(runtime, name):
            return
        endpoints = runtime.network_endpoints(name)
        if pause is None or any(e.live for e in endpoints):
            break  # waiting will not free a live container's endpoint
        reporter.step(
            Subject(Kind.NETWORK, name), "waiting for the engine to release its endpoints"
        )
        sleep(pause)
    stale = [e for e in endpoints if not e.live]
    for e in stale:
        reporter.step(Subject(Kind.NETWORK, name), f"disconnecting stale endpoint {e.name}")
        runtime.disconnect_network(name, e.name)
    if stale:
        if _removed(runtime, name):
            return
        endpoints = runtime.network_endpoints(name)
    raise _still_in_use(name, endpoints)


def _removed(runtime: ContainerRuntime, name: str) -> bool:
    """Remove the network; False when the engine refuses because endpoints remain."""
    try:
        runtime.remove_network(name)
    except EngineError as exc:
        if exc.code != "network-in-use":
            raise
        return False
    return True


def _still_in_use(name: str, endpoints: tuple[NetworkEndpoint, ...]) -> EngineError:
    left = [f"{e.name} ({'a container' if e.live else 'a stale endpoint'})" for e in endpoints]
    first = endpoints[0].name if endpoints else "CONTAINER"
    return EngineError(
        f"cannot remove network {name}: the engine still has endpoints on it: "
        + (", ".join(left) or "(none listed)")
        + "; every container of the instance was removed, only this network is left",
        hint=f"disconnect them (docker network disconnect --force {name} {first}), then "
        f"run down again, or remove the network yourself (docker network rm {name})",
        code="network-in-use",
    )

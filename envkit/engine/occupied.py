"""What an engine's ``observe`` reports for a project, from the objects the engine lists:
the project's own objects, and what around it someone else holds (the names it wants, its
host ports), so that plan can refuse a conflict before apply starts anything.

Every engine (Docker's, the fake) lists its containers, networks and volumes and hands them
to :func:`observed_state`, so they report the same things the same way. The functions read
observed values; only :func:`bound_on_host`, the probe for a host port held by a process
rather than a container, touches the host.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterable, Mapping

from envkit.engine.base import (
    ObservedContainer,
    ObservedNetwork,
    ObservedState,
    ObservedVolume,
    PortHolder,
    PortUse,
)
from envkit.engine.bindsources import BindProbe, missing_binds
from envkit.model import LABEL, DesiredState, addresses_overlap

__all__ = [
    "HostProbe",
    "bound_on_host",
    "foreign_names",
    "observed_state",
    "ports_in_use",
]

# (host ip, port, protocol) -> whether something on the host holds it
HostProbe = Callable[[str, int, str], bool]


def observed_state(
    desired: DesiredState,
    containers: Iterable[ObservedContainer],
    networks: Iterable[ObservedNetwork],
    volumes: Iterable[ObservedVolume],
    images: Mapping[str, str | None],
    host_probe: HostProbe | None,
    bind_probe: BindProbe | None = None,
) -> ObservedState:
    """What ``observe`` reports for ``desired``'s project, from everything the engine
    lists: the project's objects by their ``io.envkit.project`` label (and the external
    volumes it names, which exist when listed), the names it wants that someone else holds,
    and its fixed host ports that someone else holds. ``images``: ref -> local id.
    ``bind_probe`` (an engine on this host): the bind sources that do not exist."""
    project = desired.project
    containers = sorted(containers, key=lambda c: c.name)
    networks = sorted(networks, key=lambda n: n.name)
    volumes = sorted(volumes, key=lambda v: v.name)
    own = [c for c in containers if c.project == project]
    others = [c for c in containers if c.project != project]
    external = {desired.volume_name(v.name) for v in desired.volumes if v.external}
    return ObservedState(
        project=project,
        containers=tuple(own),
        networks=tuple(n for n in networks if n.labels.get(LABEL.PROJECT) == project),
        volumes=tuple(
            v for v in volumes if v.labels.get(LABEL.PROJECT) == project or v.name in external
        ),
        images=dict(images),
        foreign_names=foreign_names(desired, others, networks, volumes),
        ports_in_use=ports_in_use(desired, own, others, host_probe),
        missing_binds=missing_binds(desired, bind_probe),
    )


def foreign_names(
    desired: DesiredState,
    others: Iterable[ObservedContainer],
    networks: Iterable[ObservedNetwork],
    volumes: Iterable[ObservedVolume],
) -> dict[str, str]:
    """Names ``desired`` wants that exist without its project's label: name -> "container"
    | "network" | "volume". ``others``: the containers of other projects or of none."""
    project = desired.project
    foreign: dict[str, str] = {}
    wanted_containers = {
        desired.container_of(s.name, r) for s in desired.services for r in range(1, s.replicas + 1)
    }
    for c in others:
        if c.name in wanted_containers:
            foreign[c.name] = "container"
    # An external network is found here too: the planner asks that it exists.
    wanted_networks = {desired.network_name(n.name) for n in desired.network_specs()}
    for n in networks:
        if n.name in wanted_networks and n.labels.get(LABEL.PROJECT) != project:
            foreign[n.name] = "network"
    wanted_volumes = {desired.volume_name(v.name) for v in desired.volumes if not v.external}
    for v in volumes:
        if v.name in wanted_volumes and v.labels.get(LABEL.PROJECT) != project:
            foreign[v.name] = "volume"
    return foreign


def ports_in_use(
    desired: DesiredState,
    own: Iterable[ObservedContainer],
    others: Iterable[ObservedContainer],
    host_probe: HostProbe | None,
) -> tuple[PortUse, ...]:
    """The fixed host ports ``desired`` publishes that someone else holds: a container of
    ``others`` or, when ``host_probe`` is given (the engine runs on this host), a process.
    A port the project's own containers (``own``) publish is its own, not in use. Of a host
    range (``8000-8010:80``, the engine binds the first free one) the held ports are reported
    up to the first free one: the range is in use only when all of it is."""
    fixed = {
        (p.host_ip, p.fixed, p.protocol)
        for s in desired.services
        for p in s.ports
        if p.fixed is not None
    }
    ranges = sorted(
        {
            (p.host_ip, p.host_ports, p.protocol)
            for s in desired.services
            for p in s.ports
            if p.published_last is not None
        },
        key=lambda r: (r[0], r[1].start, r[1].stop, r[2]),
    )
    if not fixed and not ranges:
        return ()
    others = list(others)
    claimed = {(b.host_ip, b.host_port, b.protocol) for c in own for b in c.ports}

    def use(host_ip: str, port: int, proto: str) -> PortUse | None:
        holder = _port_holder(others, host_ip, port, proto)
        if holder is not None:
            return PortUse(host_ip, port, proto, PortHolder.CONTAINER, holder.name, holder.project)
        if any(addresses_overlap(ip, host_ip) and (q, t) == (port, proto) for ip, q, t in claimed):
            return None
        if host_probe is not None and host_probe(host_ip, port, proto):
            return PortUse(host_ip, port, proto, PortHolder.HOST_PROCESS)
        return None

    found = [u for ip, port, proto in sorted(fixed) if (u := use(ip, port, proto)) is not None]
    seen = {(u.host_ip, u.host_port, u.protocol) for u in found}
    for host_ip, ports, proto in ranges:
        for port in ports:
            held = use(host_ip, port, proto)
            if held is None:
                break
            if (host_ip, port, proto) not in seen:
                seen.add((host_ip, port, proto))
                found.append(held)
    return tuple(found)


def bound_on_host(host_ip: str, port: int, proto: str) -> bool:
    """Whether a process on this host holds ``host_ip:port``: try to bind it ourselves."""
    if proto not in ("tcp", "udp"):
        return False
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(family, kind) as sock:
        if proto == "tcp":  # do not mistake a TIME_WAIT leftover for a listener
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _port_holder(
    containers: list[ObservedContainer], host_ip: str, port: int, proto: str
) -> ObservedContainer | None:
    """Which of ``containers`` publishes ``host_ip:port/proto``."""
    for c in containers:
        for b in c.ports:
            if (b.host_port, b.protocol) == (port, proto) and addresses_overlap(b.host_ip, host_ip):
                return c
    return None

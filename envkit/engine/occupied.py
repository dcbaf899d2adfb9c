"""What around a project someone else holds: the names it wants and its host ports.

``observe`` reports these so that plan can refuse a conflict before apply starts anything.
The functions read observed values (any engine's); only :func:`bound_on_host`, the probe
for a host port held by a process rather than a container, touches the host.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Iterable

from envkit.engine.base import ObservedContainer, ObservedNetwork, ObservedVolume, PortUse
from envkit.model import LABEL, DesiredState

__all__ = ["bound_on_host", "foreign_names", "ports_in_use"]

# (host ip, port, protocol) -> whether something on the host holds it
HostProbe = Callable[[str, int, str], bool]
_WILDCARD = frozenset({"", "0.0.0.0", "::"})


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
    A port the project's own containers (``own``) publish is its own, not in use."""
    wanted = sorted(
        {
            (p.host_ip, p.published, p.protocol)
            for s in desired.services
            for p in s.ports
            if p.published is not None
        }
    )
    if not wanted:
        return ()
    others = list(others)
    claimed = {(b.host_ip, b.host_port, b.protocol) for c in own for b in c.ports}
    found: list[PortUse] = []
    for host_ip, port, proto in wanted:
        holder = _port_holder(others, host_ip, port, proto)
        if holder is not None:
            found.append(PortUse(host_ip, port, proto, holder))
            continue
        if any(_ip_overlap(ip, host_ip) and q == port and t == proto for ip, q, t in claimed):
            continue
        if host_probe is not None and host_probe(host_ip, port, proto):
            found.append(PortUse(host_ip, port, proto, "a process on the host"))
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


def _ip_overlap(a: str, b: str) -> bool:
    return a in _WILDCARD or b in _WILDCARD or a == b


def _port_holder(
    containers: list[ObservedContainer], host_ip: str, port: int, proto: str
) -> str | None:
    """Who of ``containers`` publishes ``host_ip:port/proto``, as a person would name it."""
    for c in containers:
        for b in c.ports:
            if b.host_port == port and b.protocol == proto and _ip_overlap(b.host_ip, host_ip):
                suffix = f" (project {c.project})" if c.project else " (not managed by envkit)"
                return f"container {c.name}{suffix}"
    return None

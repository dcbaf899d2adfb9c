"""The plan's host-port check (``port-in-use``): a fixed host port that someone else holds,
or that two containers of the stack publish; a host range (``8000-8010:80``, of which the
engine binds the first free port) only when every port of it is held. Pure: plan hands
over its containers as :class:`Publisher` and words nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from envkit.engine.base import ObservedState, PortHolder, PortUse
from envkit.model import PortSpec, addresses_overlap

__all__ = ["PortProblem", "Publisher", "port_problems"]

HINT = (
    "stop or remove what holds it, publish another host port for this environment, "
    "or leave the host port out so the engine picks a free one"
)


@dataclass(frozen=True, slots=True)
class Publisher:
    """A container the plan creates, starts or keeps, and the ports it publishes."""

    name: str
    service: str
    ports: tuple[PortSpec, ...]
    unchanged: bool  # kept as it is: its ports are bound already


@dataclass(frozen=True, slots=True)
class PortProblem:
    message: str
    hint: str
    service: str


def port_problems(
    project: str, observed: ObservedState, publishers: list[Publisher]
) -> list[PortProblem]:
    ours = {c.name for c in observed.containers if c.project == project}
    foreign = [
        use
        for use in observed.ports_in_use
        if use.holder is PortHolder.HOST_PROCESS
        or (use.project != project and use.container not in ours)
    ]
    out: list[PortProblem] = []
    claimed: dict[tuple[int, str], list[tuple[str, str]]] = {}  # (port, proto) -> (ip, name)
    ranges: list[tuple[Publisher, PortSpec]] = []
    for pub in publishers:
        for port in pub.ports:
            if port.published_last is not None:
                ranges.append((pub, port))
                continue
            if port.published is None:
                continue
            key = (port.published, port.protocol)
            for ip, other in claimed.get(key, []):
                if addresses_overlap(ip, port.host_ip):
                    out.append(_problem(pub, port, f"container {other} of this stack"))
            claimed.setdefault(key, []).append((port.host_ip, pub.name))
            if pub.unchanged:
                continue
            for use in foreign:
                if (use.host_port, use.protocol) == key and addresses_overlap(
                    use.host_ip, port.host_ip
                ):
                    out.append(_problem(pub, port, _holder_text(use), use))
    out.extend(_range_problems(ranges, foreign, claimed))
    return out


def _range_problems(
    ranges: list[tuple[Publisher, PortSpec]],
    foreign: list[PortUse],
    claimed: dict[tuple[int, str], list[tuple[str, str]]],
) -> list[PortProblem]:
    """A host range conflicts only when every port of it is held, by someone else or by a
    fixed port of this stack."""
    out: list[PortProblem] = []
    for pub, port in ranges:
        if pub.unchanged:
            continue
        holders: list[str] = []
        for number in port.host_ports:
            key = (number, port.protocol)
            use = next(
                (
                    u
                    for u in foreign
                    if (u.host_port, u.protocol) == key
                    and addresses_overlap(u.host_ip, port.host_ip)
                ),
                None,
            )
            mine = [n for ip, n in claimed.get(key, []) if addresses_overlap(ip, port.host_ip)]
            if use is None and not mine:
                break
            holders.append(
                _holder_text(use) if use is not None else f"container {mine[0]} of this stack"
            )
        else:
            out.append(_problem(pub, port, "; ".join(sorted(set(holders)))))
    return out


def _holder_text(use: PortUse) -> str:
    """Who holds a port, as the conflict message names it."""
    if use.holder is PortHolder.HOST_PROCESS:
        return "a process on the host"
    owner = f"project {use.project}" if use.project else "not managed by envkit"
    return f"container {use.container} ({owner})"


def _problem(pub: Publisher, port: PortSpec, owner: str, use: PortUse | None = None) -> PortProblem:
    ip = use.host_ip if use is not None and use.host_ip else port.host_ip
    published = port.published_text()
    where = f"{ip}:{published}" if ip else published
    return PortProblem(
        f"host port {where}/{port.protocol} for {pub.service} "
        f"({pub.name}, container port {port.key()}) is held by {owner}",
        HINT,
        pub.service,
    )

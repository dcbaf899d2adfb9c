"""What an instance runs, as data: the status document of ``up --json``, ``ps --json`` and
the Python API's ``Environment.status()``, and the lookup of one published port.

Pure: it reads :class:`~envkit.engine.base.ObservedContainer` values and never talks to an
engine, so the CLI and the API give the same answer from the same observation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from envkit.engine.base import ObservedContainer, PortBinding
from envkit.errors import UsageError
from envkit.model import PROTOCOLS, is_oneoff

__all__ = [
    "STATUS_FORMAT_VERSION",
    "address",
    "find_binding",
    "parse_port",
    "status_json",
]

STATUS_FORMAT_VERSION = 1


def address(host_ip: str, port: int) -> str:
    """``127.0.0.1:49153``, ``[::1]:49153``; an unset host IP is ``0.0.0.0``."""
    ip = host_ip or "0.0.0.0"
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def status_json(
    project: str, instance: str | None, containers: Sequence[ObservedContainer]
) -> dict[str, Any]:
    """``{format_version, project, instance, services: {name: {containers, state, health,
    ports: {"3306/tcp": "127.0.0.1:49153"}}}}`` — documented in the README."""
    services: dict[str, Any] = {}
    for c in sorted(containers, key=lambda c: (c.service, c.replica)):
        if is_oneoff(c.labels):  # `envkit run` containers are not the service's replicas
            continue
        entry = services.setdefault(
            c.service, {"containers": [], "state": c.state, "health": c.health, "ports": {}}
        )
        entry["containers"].append(
            {
                "name": c.name,
                "id": c.id[:12],
                "replica": c.replica,
                "state": c.state,
                "health": c.health,
            }
        )
        if c.state != "running":
            entry["state"] = c.state
        if c.health not in (None, "healthy"):
            entry["health"] = c.health
        for b in c.ports:
            entry["ports"].setdefault(f"{b.target}/{b.protocol}", address(b.host_ip, b.host_port))
    return {
        "format_version": STATUS_FORMAT_VERSION,
        "project": project,
        "instance": instance,
        "services": services,
    }


def parse_port(port: int | str) -> tuple[int, str]:
    """``3306`` or ``"3306"`` -> ``(3306, "tcp")``; ``"53/udp"`` -> ``(53, "udp")``."""
    if isinstance(port, int) and not isinstance(port, bool):
        target, proto = str(port), "tcp"
    else:
        target, _, proto = str(port).partition("/")
        proto = proto.lower() or "tcp"
    if not target.isdigit() or not 0 < int(target) < 65536 or proto not in PROTOCOLS:
        raise UsageError(
            f"{port!r} is not a port",
            hint="write PORT or PORT/PROTO with PROTO tcp, udp or sctp, e.g. 3306 or '53/udp'",
            code="invalid-port",
        )
    return int(target), proto


def find_binding(container: ObservedContainer, target: int, protocol: str) -> PortBinding | None:
    """The host side of ``target/protocol`` on ``container``; IPv4 first when the engine
    published the port on both families (Docker does for an unset host IP)."""
    found = [b for b in container.ports if b.target == target and b.protocol == protocol]
    found.sort(key=lambda b: ":" in b.host_ip)
    return found[0] if found else None

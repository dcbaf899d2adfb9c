"""What a container of a service is created with, beyond the basics (pure; used by
``envkit.engine.docker``): Compose's networks, anonymous volumes and container options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envkit.model import DesiredState, MountType, ServiceNetwork, ServiceSpec

__all__ = ["anonymous_targets", "exposed", "host_options", "links", "network_mode"]


def network_mode(
    desired: DesiredState, spec: ServiceSpec, joined: tuple[ServiceNetwork, ...]
) -> str:
    """The engine's network mode: the first network joined, or the service's
    ``network_mode`` (``service:NAME`` is that service's first container, as in Compose)."""
    mode = spec.network_mode
    if mode is None:
        return desired.network_name(joined[0].name)
    kind, _, target = mode.partition(":")
    if kind == "service":
        return f"container:{desired.container_of(target, 1)}"
    return mode


def links(desired: DesiredState, spec: ServiceSpec) -> list[tuple[str, str]]:
    """``links`` as container-scoped aliases on every network of the container; each
    resolves on the network it shares with the linked service's first container."""
    return [(desired.container_of(service, 1), alias) for service, alias in spec.links]


def anonymous_targets(spec: ServiceSpec, image_config: Mapping[str, Any]) -> dict[str, bool]:
    """target -> read-only for every anonymous volume of a new container: a bare
    ``/data`` mount of the spec, or a ``VOLUME`` of its image that no mount covers."""
    explicit = {m.target for m in spec.mounts if m.source}
    explicit |= {entry.split(":", 1)[0] for entry in spec.tmpfs}
    wanted = {
        m.target: m.read_only for m in spec.mounts if m.type is MountType.VOLUME and not m.source
    }
    for target in image_config.get("Volumes") or {}:
        if target not in explicit:
            wanted.setdefault(str(target), False)
    return wanted


def host_options(spec: ServiceSpec) -> dict[str, Any]:
    """The host-config part of ``spec.options`` (only what is set: the engine's defaults
    stay the engine's), as the SDK's ``create_host_config`` takes it (plain data: only
    ``envkit.engine.docker`` imports the SDK)."""
    o = spec.options
    found: dict[str, Any] = {
        "read_only": o.read_only or None,
        "shm_size": o.shm_size,
        "pids_limit": o.pids_limit,
        "oom_score_adj": o.oom_score_adj,
        "sysctls": dict(o.sysctls) or None,
        "ulimits": [{"name": n, "soft": s, "hard": h} for n, s, h in o.ulimits] or None,
        "security_opt": list(o.security_opt) or None,
        "dns": list(o.dns) or None,
        "dns_search": list(o.dns_search) or None,
        "dns_opt": list(o.dns_opt) or None,
        "group_add": list(o.group_add) or None,
        "devices": list(o.devices) or None,
        "ipc_mode": o.ipc,
        "pid_mode": o.pid,
        "userns_mode": o.userns_mode,
        "cgroup_parent": o.cgroup_parent,
        "runtime": o.runtime,
        "log_config": {"type": o.log_driver or "json-file", "config": dict(o.log_options)}
        if o.log_driver or o.log_options
        else None,
    }
    return {k: v for k, v in found.items() if v is not None}


def exposed(entry: str) -> tuple[int, str]:
    """``"8080/udp"`` -> ``(8080, "udp")`` (normalize expands ranges and adds the protocol)."""
    port, _, proto = entry.partition("/")
    return int(port), proto or "tcp"

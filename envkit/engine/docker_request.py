"""The request a service's container is created with: host config, networking and the
create call's arguments, built from the desired state (the engine's ``POST
/containers/create``). Used by :class:`envkit.engine.docker.DockerEngine`, which makes
the call inside its error boundary; the docker SDK's builders are imported on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envkit.engine.docker_create import exposed, host_options, links, network_mode
from envkit.engine.docker_mounts import container_mounts
from envkit.model import DesiredState, ServiceNetwork, ServiceSpec

__all__ = [
    "create_request",
    "endpoint_config",
    "healthcheck_options",
    "restart_policy",
    "send_create",
    "start_interval_ns",
    "tmpfs_options",
]

_NS = 1_000_000_000


def create_request(
    api: Any,
    desired: DesiredState,
    spec: ServiceSpec,
    name: str,
    labels: Mapping[str, str],
    anonymous: Mapping[str, tuple[str, bool]],
    joined: tuple[ServiceNetwork, ...],
    *,
    tty: bool = False,
    oneoff: bool = False,
) -> dict[str, Any]:
    """The keyword arguments of ``APIClient.create_container`` for ``name``: its ports,
    mounts (the ``anonymous`` volumes, target -> (name, read-only), at their paths), the
    first network it joins, and the service's options. A ``oneoff`` (``envkit run``) has
    stdin open, is attached to, and gets no service alias."""
    bindings: dict[str, list[tuple[str, str] | tuple[str]]] = {}
    for p in spec.ports:  # a range "8000-8010" as docker-compose sends it: the engine picks
        ip = p.host_ip or ""
        bindings.setdefault(p.key(), []).append(
            (ip, p.published_text()) if p.published is not None else (ip,)
        )
    mounts, binds = container_mounts(str(api.api_version), desired, spec, anonymous)
    host_config = api.create_host_config(
        port_bindings=bindings or None,
        mounts=mounts or None,
        binds=binds or None,
        restart_policy=restart_policy(spec.restart),
        extra_hosts=dict(spec.extra_hosts) or None,
        cap_add=list(spec.cap_add) or None,
        cap_drop=list(spec.cap_drop) or None,
        privileged=spec.privileged,
        tmpfs=tmpfs_options(spec.tmpfs) or None,
        init=spec.init,
        mem_limit=spec.mem_limit,
        nano_cpus=int(spec.cpus * _NS) if spec.cpus else None,
        network_mode=network_mode(desired, spec, joined),
        volumes_from=[
            f"{desired.container_of(name, 1) if kind == 'service' else name}:{mode}"
            for kind, name, mode in spec.volumes_from
        ]
        or None,
        **host_options(spec),
    )
    networking = None
    if joined:
        first = joined[0]
        networking = api.create_networking_config(
            {desired.network_name(first.name): endpoint_config(api, desired, spec, first, oneoff)}
        )
    return dict(
        image=spec.image,
        name=name,
        command=list(spec.command) if spec.command is not None else None,
        entrypoint=list(spec.entrypoint) if spec.entrypoint is not None else None,
        environment=[f"{k}={v}" for k, v in spec.environment] or None,
        ports=[
            *((p.target, p.protocol) for p in spec.ports),
            *(exposed(e) for e in spec.expose),
        ]
        or None,
        labels=dict(labels),
        user=spec.user,
        working_dir=spec.working_dir,
        hostname=spec.hostname,
        healthcheck=healthcheck_options(spec),
        stop_timeout=(
            round(spec.stop_grace_period_s) if spec.stop_grace_period_s is not None else None
        ),
        host_config=host_config,
        networking_config=networking,
        # A one-off is attached to (docker start -a -i): the SDK then sets
        # Attach{Stdin,Stdout,Stderr} and StdinOnce, without which nothing shows.
        detach=not oneoff,
        stop_signal=spec.options.stop_signal,
        stdin_open=oneoff or spec.options.stdin_open,
        tty=tty or spec.options.tty,
        mac_address=spec.options.mac_address,
        domainname=spec.options.domainname,
        platform=spec.options.platform,
    )


def endpoint_config(
    api: Any, desired: DesiredState, spec: ServiceSpec, net: ServiceNetwork, oneoff: bool = False
) -> Any:
    """The endpoint on ``net``: the service name and the network's aliases (none for a
    one-off), its fixed IPv4 address, and its links."""
    return api.create_endpoint_config(
        aliases=None if oneoff else [spec.name, *net.aliases],
        ipv4_address=net.ipv4_address,
        links=links(desired, spec) or None,
    )


def restart_policy(restart: str) -> dict[str, Any] | None:
    if restart in ("", "no"):
        return None
    name, _, count = restart.partition(":")
    policy: dict[str, Any] = {"Name": name}
    if name == "on-failure" and count:
        policy["MaximumRetryCount"] = int(count)
    return policy


def tmpfs_options(entries: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for entry in entries:
        path, _, options = entry.partition(":")
        out[path] = options
    return out


START_INTERVAL_API = (1, 44)  # Docker 25: HealthConfig.StartInterval


def start_interval_ns(api_version: str, spec: ServiceSpec) -> int | None:
    """``healthcheck.start_interval`` in nanoseconds, for an engine that takes it (API
    1.44+); None otherwise. An older engine runs the healthcheck at its ``interval`` from
    the start, as it would ignore the field: envkit leaves it out rather than refuse the
    stack, as docker compose v2 does ("can't set healthcheck.start_interval")."""
    hc = spec.healthcheck
    if hc is None or not hc.start_interval_s:
        return None
    try:
        version = tuple(int(part) for part in api_version.split("."))
    except ValueError:
        return None
    return int(hc.start_interval_s * _NS) if version >= START_INTERVAL_API else None


def send_create(api: Any, spec: ServiceSpec, request: Mapping[str, Any]) -> Any:
    """``api.create_container(**request)``; through the SDK's two steps when the container
    has a ``start_interval`` for this engine, which the SDK's Healthcheck type drops."""
    ns = start_interval_ns(str(api.api_version), spec)
    if ns is None:
        return api.create_container(**request)
    args = {k: v for k, v in request.items() if k not in ("name", "platform", "use_config_proxy")}
    args.setdefault("command", None)  # a keyword with a default only in create_container
    config = api.create_container_config(**args)
    config["Healthcheck"]["StartInterval"] = ns
    return api.create_container_from_config(config, request.get("name"), request.get("platform"))


def healthcheck_options(spec: ServiceSpec) -> dict[str, Any] | None:
    hc = spec.healthcheck
    if hc is None:
        return None
    out: dict[str, Any] = {"test": list(hc.test)}
    for key, seconds in (
        ("interval", hc.interval_s),
        ("timeout", hc.timeout_s),
        ("start_period", hc.start_period_s),
    ):
        if seconds is not None:
            out[key] = int(seconds * _NS)
    if hc.retries is not None:
        out["retries"] = hc.retries
    return out

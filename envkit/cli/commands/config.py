"""``envkit config [ENV]``: the rendered environment as a Compose file.

The output is what ``docker-compose config`` accepts and what envkit reads back to the
same desired state (the same spec hashes): every value rendered, paths absolute, values
written as people write them (durations ``2s``, sizes ``64m``), every ``$`` doubled so
that Compose's interpolation gives the value back unchanged. Secrets and configs from
files are the top-level ``secrets:``/``configs:`` pointing at the same files. Sensitive
values (env-file values, secret-looking variables) are printed as ``(sensitive)`` unless
``--show-secrets``; a comment at the top says which.

What a Compose file cannot say is left out: the stack's environments, its instance and
envkit's own names (a Compose project is named by ``-p`` or its folder).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from envkit.cli.commands.common import resolve_env
from envkit.errors import SENSITIVE, redact
from envkit.model import (
    BuildSpec,
    DesiredState,
    Healthcheck,
    Mount,
    MountType,
    NetworkSpec,
    PortSpec,
    PullPolicy,
    ServiceSpec,
    VolumeSpec,
    pull_policy_text,
)

if TYPE_CHECKING:
    from envkit.cli.console import Console

__all__ = ["cmd_config", "compose_document", "format_duration", "format_size"]

_DURATION_UNITS = (("h", 3600.0), ("m", 60.0), ("s", 1.0), ("ms", 1e-3), ("us", 1e-6))
_SIZE_UNITS = (("g", 1024**3), ("m", 1024**2), ("k", 1024))


def cmd_config(args: argparse.Namespace, console: Console) -> int:
    resolved = resolve_env(args, console)
    desired = resolved.desired
    document = compose_document(desired, show_secrets=args.show_secrets)
    import yaml

    text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False, width=1 << 30)
    where = f"{desired.stack}, environment {desired.environment}"
    if args.show_secrets:
        header = f"# envkit config: {where}; sensitive values shown (--show-secrets)\n"
        console.out_stream.write(header + text)  # deliberately not redacted
    else:
        header = (
            f"# envkit config: {where}; sensitive values are masked as {SENSITIVE} "
            "(--show-secrets prints them)\n"
        )
        console.out(header + text.rstrip())
    return 0


def compose_document(desired: DesiredState, *, show_secrets: bool = False) -> dict[str, Any]:
    """The desired state as a Compose file's data (every ``$`` already doubled)."""
    files = _FileNames()
    services = {svc.name: _service(svc, files, show_secrets) for svc in desired.services}
    document: dict[str, Any] = {"services": services}
    if desired.networks:
        document["networks"] = {n.name: _network(n) for n in desired.networks}
    if desired.volumes:
        document["volumes"] = {v.name: _volume(v) for v in desired.volumes}
    for kind in ("secrets", "configs"):
        if files.declared[kind]:
            document[kind] = {n: {"file": f} for f, n in files.declared[kind].items()}
    if not show_secrets:
        document = _mask(document, desired.sensitive_values)
    escaped = _escape(document)
    assert isinstance(escaped, dict)
    return escaped


class _FileNames:
    """The top-level names of the secret and config files the services mount."""

    def __init__(self) -> None:
        self.declared: dict[str, dict[str, str]] = {"secrets": {}, "configs": {}}
        self.taken: set[str] = set()

    def name(self, kind: str, file: str, target: str) -> str:
        names = self.declared[kind]
        if file not in names:
            base = target.rstrip("/").rsplit("/", 1)[-1] or kind[:-1]
            name, n = base, 1
            while name in self.taken:
                n += 1
                name = f"{base}_{n}"
            self.taken.add(name)
            names[file] = name
        return names[file]


def _service(svc: ServiceSpec, files: _FileNames, show_secrets: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if svc.image:
        out["image"] = svc.image
    if svc.build is not None:
        build: dict[str, Any] = {"context": svc.build.context}
        if svc.build.dockerfile != "Dockerfile":
            build["dockerfile"] = svc.build.dockerfile
        if svc.build.args:
            build["args"] = dict(svc.build.args)
        if svc.build.target:
            build["target"] = svc.build.target
        build.update(_build_extras(svc.build))
        out["build"] = build
    if svc.pull_policy is not PullPolicy.MISSING:
        out["pull_policy"] = pull_policy_text(svc)
    if svc.container_name:
        out["container_name"] = svc.container_name
    if svc.command is not None:
        out["command"] = list(svc.command)
    if svc.entrypoint is not None:
        out["entrypoint"] = list(svc.entrypoint)
    if svc.environment:
        out["environment"] = {
            k: (SENSITIVE if k in svc.sensitive_env and not show_secrets else v)
            for k, v in svc.environment
        }
    if svc.ports:
        out["ports"] = [_port(p) for p in svc.ports]
    if svc.expose:
        out["expose"] = list(svc.expose)
    mounted = dict(svc.file_digests)
    volumes: list[str | dict[str, Any]] = []
    secrets: list[dict[str, str]] = []
    configs: list[dict[str, str]] = []
    for mount in svc.mounts:
        if mount.type is MountType.BIND and mount.read_only and mount.target in mounted:
            is_secret = mount.target.startswith("/run/secrets/")
            kind = "secrets" if is_secret else "configs"
            name = files.name(kind, mount.source, mount.target)
            (secrets if is_secret else configs).append({"source": name, "target": mount.target})
        else:
            volumes.append(_mount(mount))
    for key, value in (("volumes", volumes), ("secrets", secrets), ("configs", configs)):
        if value:
            out[key] = value
    if svc.tmpfs:
        out["tmpfs"] = list(svc.tmpfs)
    if svc.volumes_from:
        out["volumes_from"] = [
            f"{'container:' if kind == 'container' else ''}{name}{':ro' if mode == 'ro' else ''}"
            for kind, name, mode in svc.volumes_from
        ]
    if svc.network_mode:
        out["network_mode"] = svc.network_mode
    if svc.networks:
        out["networks"] = {
            n.name: _service_network(n.aliases, n.ipv4_address) for n in svc.networks
        }
    if svc.links:
        out["links"] = [s if s == alias else f"{s}:{alias}" for s, alias in svc.links]
    if svc.depends_on:
        out["depends_on"] = {
            d.service: {"condition": d.condition.value, **({"restart": True} if d.restart else {})}
            for d in svc.depends_on
        }
    if svc.healthcheck is not None:
        out["healthcheck"] = _healthcheck(svc.healthcheck)
    if svc.restart != "no":
        out["restart"] = svc.restart
    if svc.labels:
        out["labels"] = dict(svc.labels)
    for key in ("user", "working_dir", "hostname"):
        if getattr(svc, key) is not None:
            out[key] = getattr(svc, key)
    if svc.extra_hosts:
        out["extra_hosts"] = [f"{host}:{ip}" for host, ip in svc.extra_hosts]
    for key in ("cap_add", "cap_drop"):
        if getattr(svc, key):
            out[key] = list(getattr(svc, key))
    if svc.privileged:
        out["privileged"] = True
    if svc.init is not None:
        out["init"] = svc.init
    if svc.stop_grace_period_s is not None:
        out["stop_grace_period"] = format_duration(svc.stop_grace_period_s)
    out.update(_options(svc))
    deploy: dict[str, Any] = {}
    if svc.replicas != 1:
        deploy["replicas"] = svc.replicas
    limits: dict[str, Any] = {}
    if svc.cpus is not None:
        limits["cpus"] = str(svc.cpus)
    if svc.mem_limit is not None:
        limits["memory"] = format_size(svc.mem_limit)
    if limits:
        deploy["resources"] = {"limits": limits}
    if deploy:
        out["deploy"] = deploy
    return out


def _port(port: PortSpec) -> str:
    """The short syntax (1.29.2 knows no ``host_ip`` in the long one); IPv6 in brackets."""
    text = str(port.target) if port.protocol == "tcp" else f"{port.target}/{port.protocol}"
    if port.published is not None:
        text = f"{port.published_text()}:{text}"
    elif port.host_ip:
        text = f":{text}"
    host = f"[{port.host_ip}]" if ":" in port.host_ip else port.host_ip
    return f"{host}:{text}" if host else text


def _build_extras(build: BuildSpec) -> dict[str, Any]:
    """The build keys past context, dockerfile, args and target, those that are set."""
    values: dict[str, Any] = {
        "dockerfile_inline": build.dockerfile_inline,
        "tags": list(build.tags),
        "labels": dict(build.labels),
        "network": build.network,
        "shm_size": None if build.shm_size is None else format_size(build.shm_size),
        "extra_hosts": [f"{host}:{ip}" for host, ip in build.extra_hosts],
        "cache_from": list(build.cache_from),
        "no_cache": build.no_cache,
        "pull": build.pull,
    }
    return {k: v for k, v in values.items() if v not in (None, [], {}, False)}


def _mount(mount: Mount) -> str | dict[str, Any]:
    """The short syntax where it can say everything (``data:/d:ro,nocopy``), else the long
    form (a tmpfs, a subpath, a bind that must not create its missing source: the short
    syntax creates it)."""
    bind_as_long = mount.type is MountType.BIND and not mount.create_host_path
    if mount.type is MountType.TMPFS or mount.subpath or bind_as_long:
        return _long_mount(mount)
    modes = [
        *(["ro"] if mount.read_only else []),
        *([mount.selinux] if mount.selinux else []),
        *([mount.propagation.value] if mount.propagation else []),
        *(["nocopy"] if mount.no_copy else []),
    ]
    text = (
        mount.target
        if mount.type is MountType.VOLUME and not mount.source
        else (f"{mount.source}:{mount.target}")
    )
    return f"{text}:{','.join(modes)}" if modes else text


def _long_mount(mount: Mount) -> dict[str, Any]:
    out: dict[str, Any] = {"type": mount.type.value, "target": mount.target}
    if mount.source:
        out["source"] = mount.source
    if mount.read_only:
        out["read_only"] = True
    options: dict[str, Any] = {
        "nocopy": mount.no_copy or None,
        "subpath": mount.subpath or None,
        "create_host_path": mount.create_host_path or None,
        "propagation": mount.propagation.value if mount.propagation else None,
        "selinux": mount.selinux or None,
        "size": mount.tmpfs_size,  # bytes: docker-compose 1.29.2 takes no unit here
        "mode": mount.tmpfs_mode,
    }
    block = {k: v for k, v in options.items() if v is not None}
    if block:
        out[mount.type.value] = block
    return out


def _service_network(aliases: tuple[str, ...], ipv4: str | None) -> dict[str, Any] | None:
    body: dict[str, Any] = {}
    if aliases:
        body["aliases"] = list(aliases)
    if ipv4:
        body["ipv4_address"] = ipv4
    return body or None


def _healthcheck(check: Healthcheck) -> dict[str, Any]:
    if check.disabled:
        return {"disable": True}
    out: dict[str, Any] = {"test": list(check.test)}
    for key in ("interval", "timeout", "start_period", "start_interval"):
        seconds = getattr(check, f"{key}_s")
        if seconds is not None:
            out[key] = format_duration(seconds)
    if check.retries is not None:
        out["retries"] = check.retries
    return out


def _options(svc: ServiceSpec) -> dict[str, Any]:
    o = svc.options
    out: dict[str, Any] = {}
    for key in ("stop_signal", "ipc", "pid", "userns_mode", "cgroup_parent", "runtime"):
        if getattr(o, key) is not None:
            out[key] = getattr(o, key)
    for key in ("mac_address", "domainname", "platform", "pids_limit", "oom_score_adj"):
        if getattr(o, key) is not None:
            out[key] = getattr(o, key)
    for key in ("stdin_open", "tty", "read_only"):
        if getattr(o, key):
            out[key] = True
    if o.shm_size is not None:
        out["shm_size"] = format_size(o.shm_size)
    for key in ("security_opt", "dns", "dns_search", "dns_opt", "group_add", "devices"):
        if getattr(o, key):
            out[key] = list(getattr(o, key))
    if o.sysctls:
        out["sysctls"] = dict(o.sysctls)
    if o.ulimits:
        out["ulimits"] = {name: {"soft": soft, "hard": hard} for name, soft, hard in o.ulimits}
    if o.log_driver is not None or o.log_options:
        logging: dict[str, Any] = {}
        if o.log_driver is not None:
            logging["driver"] = o.log_driver
        if o.log_options:
            logging["options"] = dict(o.log_options)
        out["logging"] = logging
    return out


def _network(net: NetworkSpec) -> dict[str, Any]:
    if net.external:
        return {"external": True, **({"name": net.external_name} if net.external_name else {})}
    out: dict[str, Any] = {}
    if net.driver != "bridge":
        out["driver"] = net.driver
    if net.driver_opts:
        out["driver_opts"] = dict(net.driver_opts)
    if net.labels:
        out["labels"] = dict(net.labels)
    for key in ("internal", "attachable", "enable_ipv6"):
        if getattr(net, key):
            out[key] = True
    if net.ipam_driver or net.ipam_config:
        ipam: dict[str, Any] = {}
        if net.ipam_driver:
            ipam["driver"] = net.ipam_driver
        if net.ipam_config:
            ipam["config"] = [
                {
                    k: v
                    for k, v in (("subnet", s), ("ip_range", r), ("gateway", g))
                    if v  # "" = not given
                }
                for s, r, g in net.ipam_config
            ]
        out["ipam"] = ipam
    return out


def _volume(vol: VolumeSpec) -> dict[str, Any]:
    if vol.external:
        return {"external": True, **({"name": vol.external_name} if vol.external_name else {})}
    out: dict[str, Any] = {}
    if vol.driver != "local":
        out["driver"] = vol.driver
    if vol.driver_opts:
        out["driver_opts"] = dict(vol.driver_opts)
    if vol.labels:
        out["labels"] = dict(vol.labels)
    return out


def format_duration(seconds: float) -> str:
    """``90.0`` -> ``"1m30s"``, ``1.5`` -> ``"1s500ms"``: Compose's (Go's) duration syntax,
    exact to the microsecond, which :func:`envkit.units.parse_duration` reads back."""
    micros = round(seconds * 1_000_000)
    if micros == 0:
        return "0s"
    parts = []
    for unit, size in _DURATION_UNITS:
        step = round(size * 1_000_000)
        count, micros = divmod(micros, step)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_size(size: int) -> str:
    """``67108864`` -> ``"64m"``: the largest unit that divides the size, else bytes."""
    for unit, factor in _SIZE_UNITS:
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}b"


def _mask(value: Any, secrets: frozenset[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _mask(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, secrets) for v in value]
    return value


def _escape(value: Any) -> Any:
    """Double every ``$`` of every value, so that Compose's interpolation leaves it be."""
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value

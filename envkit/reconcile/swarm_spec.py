"""A Swarm service as the engine's ServiceSpec JSON, and as envkit's canonical spec.

Pure. Two canonical halves per service, each hashed into the service's labels:

- the **task** half: everything that lives in Swarm's task template or endpoint (the
  container fields of :func:`envkit.canonical.canonical_spec`, ports with their publish mode,
  placement, resources, restart policy, networks, secrets and configs by content digest).
  A change here is a rolling update: Swarm replaces every task.
- the **service** half: replicas, service labels, update and rollback configs. A change here
  is applied in place: no task is replaced (a scale adds or removes tasks only).

``engine_spec`` is the complete ServiceSpec: envkit always sends every field (an update
never relies on what the engine kept), so a field envkit does not set is reset to Swarm's
default, exactly as a fresh create would have it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from envkit.canonical import canonical_spec, project_labels
from envkit.model import LABEL
from envkit.swarm_model import (
    DeployMode,
    ObjectRef,
    SwarmObject,
    SwarmService,
    SwarmStack,
    UpdateConfig,
)

__all__ = [
    "SWARM_SPEC_HASH_VERSION",
    "TASK_HASH",
    "canonical_halves",
    "engine_spec",
    "service_labels",
    "spec_label",
    "task_hash",
]

SWARM_SPEC_HASH_VERSION = 1
TASK_HASH = "io.envkit.task-hash"  # the task half's hash; SPEC_HASH holds the whole spec's
_NS = 1_000_000_000


def _ns(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * _NS)


def _drop_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != {} and v != []}


def _refs(refs: tuple[ObjectRef, ...], objects: tuple[SwarmObject, ...]) -> list[dict[str, Any]]:
    digest = {o.name: ("external" if o.external else o.digest) for o in objects}
    return [
        {"source": r.source, "target": r.target, "uid": r.uid, "gid": r.gid, "mode": r.mode,
         "digest": digest.get(r.source, "")}
        for r in refs
    ]  # fmt: skip


def _update(u: UpdateConfig | None) -> dict[str, Any] | None:
    if u is None:
        return None
    return _drop_none(
        {"parallelism": u.parallelism, "delay": u.delay_s, "failure_action": u.failure_action,
         "monitor": u.monitor_s, "max_failure_ratio": u.max_failure_ratio, "order": u.order}
    )  # fmt: skip


def canonical_halves(stack: SwarmStack, svc: SwarmService) -> tuple[dict[str, Any], dict[str, Any]]:
    """(task half, service half) as JSON-able data, secrets only as digests."""
    task = canonical_spec(svc.spec, stack.desired.secrets)
    task.pop("restart", None)
    task["ports"] = [
        {
            **p,
            "mode": "host"
            if f"{p['target']}/{p.get('protocol', 'tcp')}" in svc.host_ports
            else "ingress",
        }
        for p in task.get("ports", [])
    ]
    d = svc.deploy
    task["restart_policy"] = _restart_policy(svc)
    task["placement"] = _drop_none(
        {"constraints": list(d.placement.constraints), "preferences": list(d.placement.preferences),
         "max_replicas_per_node": d.placement.max_replicas_per_node}
    )  # fmt: skip
    if d.resources is not None:
        task["resources"] = _drop_none(
            {k: getattr(d.resources, k) for k in d.resources.__dataclass_fields__}
        )
    task["endpoint_mode"] = d.endpoint_mode.value
    task["networks"] = [[n, list(a)] for n, a in svc.networks]
    task["secrets"] = _refs(svc.secrets, stack.secrets)
    task["configs"] = _refs(svc.configs, stack.configs)
    service = {
        "mode": d.mode.value,
        "replicas": svc.replicas if d.mode.has_replicas else None,
        "labels": [list(p) for p in d.labels],
        "update_config": _update(d.update_config),
        "rollback_config": _update(d.rollback_config),
    }
    return task, service


def _digest(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{SWARM_SPEC_HASH_VERSION}\0{text}".encode()).hexdigest()[:32]


def _secret_part(svc: SwarmService) -> str:
    """The full values of sensitive environment variables (canonical_spec holds short digests)."""
    env = svc.spec.environment
    return "".join(
        hashlib.sha256(v.encode()).hexdigest() for k, v in env if k in svc.spec.sensitive_env
    )


def task_hash(stack: SwarmStack, svc: SwarmService) -> str:
    task, _ = canonical_halves(stack, svc)
    return f"s{SWARM_SPEC_HASH_VERSION}-" + _digest([task, _secret_part(svc)])


def spec_label(stack: SwarmStack, svc: SwarmService) -> str:
    task, service = canonical_halves(stack, svc)
    return json.dumps({"task": task, "service": service}, sort_keys=True, separators=(",", ":"))


def service_labels(stack: SwarmStack, svc: SwarmService) -> dict[str, str]:
    """The service's labels: the user's deploy.labels, then envkit's (which win)."""
    labels = {k: v for k, v in svc.deploy.labels if not k.startswith(LABEL.PREFIX)}
    labels.update(project_labels(stack.desired))
    labels[LABEL.SERVICE] = svc.name
    labels[TASK_HASH] = task_hash(stack, svc)
    labels[LABEL.SPEC] = spec_label(stack, svc)
    labels[LABEL.SPEC_HASH] = f"s{SWARM_SPEC_HASH_VERSION}-" + _digest(
        [labels[LABEL.SPEC], _secret_part(svc)]
    )
    return labels


def _restart_policy(svc: SwarmService) -> dict[str, Any]:
    """deploy.restart_policy; else the service's ``restart:`` as ``docker stack deploy`` maps
    it (always / unless-stopped -> any, on-failure[:N] -> on-failure), ``no`` (the default)
    leaving Swarm's default; a job restarts on failure only."""
    rp = svc.deploy.restart_policy
    if rp is not None:
        return _drop_none(
            {"condition": rp.condition, "delay": rp.delay_s, "max_attempts": rp.max_attempts,
             "window": rp.window_s}
        )  # fmt: skip
    restart = svc.spec.restart
    if restart.startswith("on-failure"):
        _, _, n = restart.partition(":")
        return _drop_none({"condition": "on-failure", "max_attempts": int(n) if n else None})
    if restart in ("always", "unless-stopped"):
        return {"condition": "any"}
    return {"condition": "on-failure"} if svc.deploy.mode.is_job else {}


def _engine_update(u: dict[str, Any] | None) -> dict[str, Any] | None:
    if u is None:
        return None
    return _drop_none(
        {"Parallelism": u.get("parallelism"), "Delay": _ns(u.get("delay")),
         "FailureAction": u.get("failure_action"), "Monitor": _ns(u.get("monitor")),
         "MaxFailureRatio": u.get("max_failure_ratio"), "Order": u.get("order")}
    )  # fmt: skip


def engine_spec(
    stack: SwarmStack, svc: SwarmService, ids: dict[str, str] | None = None
) -> dict[str, Any]:
    """The complete ServiceSpec (Engine API 1.41). ``ids`` maps network, secret and config
    engine names to their ids (the API wants ids for secrets and configs)."""
    ids = ids or {}
    spec, d = svc.spec, svc.deploy
    task, service = canonical_halves(stack, svc)
    container: dict[str, Any] = _drop_none({
        "Image": spec.image,
        "Command": list(spec.entrypoint) if spec.entrypoint is not None else None,
        "Args": list(spec.command) if spec.command is not None else None,
        "Env": [f"{k}={v}" for k, v in spec.environment],
        "Labels": {**project_labels(stack.desired), LABEL.SERVICE: svc.name},
        "Dir": spec.working_dir,
        "User": spec.user,
        "Hostname": spec.hostname,
        "Hosts": [f"{ip} {host}" for host, ip in spec.extra_hosts],
        "Init": spec.init,
        "StopGracePeriod": _ns(spec.stop_grace_period_s),
        "CapabilityAdd": list(spec.cap_add),
        "CapabilityDrop": list(spec.cap_drop),
        "Mounts": [_mount(stack, m) for m in spec.mounts],
    })  # fmt: skip
    if spec.healthcheck is not None:
        hc = spec.healthcheck
        container["HealthCheck"] = _drop_none(
            {"Test": list(hc.test), "Interval": _ns(hc.interval_s), "Timeout": _ns(hc.timeout_s),
             "Retries": hc.retries, "StartPeriod": _ns(hc.start_period_s)}
        )  # fmt: skip
    project = stack.project
    for kind, refs, objects in (
        ("Secrets", svc.secrets, stack.secrets),
        ("Configs", svc.configs, stack.configs),
    ):
        entries = []
        for r in refs:
            obj = next(o for o in objects if o.name == r.source)
            name = obj.engine_name(project)
            default = f"/run/secrets/{r.source}" if kind == "Secrets" else f"/{r.source}"
            id_key = "SecretID" if kind == "Secrets" else "ConfigID"
            name_key = "SecretName" if kind == "Secrets" else "ConfigName"
            entries.append(
                {"File": {"Name": r.target or default, "UID": r.uid, "GID": r.gid, "Mode": r.mode},
                 id_key: ids.get(name, name), name_key: name}
            )  # fmt: skip
        if entries:
            container[kind] = entries
    template: dict[str, Any] = {"ContainerSpec": container, "ForceUpdate": 0}
    resources: dict[str, Any] = {}
    res = task.get("resources") or {}
    limits = _drop_none({
        "NanoCPUs": int(res["limit_cpus"] * _NS) if res.get("limit_cpus") else (
            int(spec.cpus * _NS) if spec.cpus else None),
        "MemoryBytes": res.get("limit_memory") or spec.mem_limit,
        "Pids": res.get("limit_pids"),
    })  # fmt: skip
    reserve = _drop_none({
        "NanoCPUs": int(res["reserve_cpus"] * _NS) if res.get("reserve_cpus") else None,
        "MemoryBytes": res.get("reserve_memory"),
    })  # fmt: skip
    if limits:
        resources["Limits"] = limits
    if reserve:
        resources["Reservations"] = reserve
    if resources:
        template["Resources"] = resources
    rp = task["restart_policy"]
    if rp:
        template["RestartPolicy"] = _drop_none(
            {"Condition": rp.get("condition"), "Delay": _ns(rp.get("delay")),
             "MaxAttempts": rp.get("max_attempts"), "Window": _ns(rp.get("window"))}
        )  # fmt: skip
    placement = _drop_none({
        "Constraints": list(d.placement.constraints),
        "Preferences": [{"Spread": {"SpreadDescriptor": p}} for p in d.placement.preferences],
        "MaxReplicas": d.placement.max_replicas_per_node,
    })  # fmt: skip
    if placement:
        template["Placement"] = placement
    template["Networks"] = [
        {"Target": ids.get(n, n), "Aliases": [svc.name, *a]}  # the short name, as on one engine
        for n, a in ((stack.network_name(name), aliases) for name, aliases in svc.networks)
    ]
    mode: dict[str, Any]
    replicas = service["replicas"]
    if d.mode is DeployMode.REPLICATED:
        mode = {"Replicated": {"Replicas": replicas}}
    elif d.mode is DeployMode.GLOBAL:
        mode = {"Global": {}}
    elif d.mode is DeployMode.REPLICATED_JOB:
        mode = {"ReplicatedJob": {"MaxConcurrent": replicas, "TotalCompletions": replicas}}
    else:
        mode = {"GlobalJob": {}}
    out: dict[str, Any] = {
        "Name": f"{project}_{svc.name}",
        "Labels": service_labels(stack, svc),
        "TaskTemplate": template,
        "Mode": mode,
        "EndpointSpec": _drop_none({
            "Mode": d.endpoint_mode.value,
            "Ports": [
                _drop_none({"Protocol": p.get("protocol", "tcp"), "TargetPort": p["target"],
                            "PublishedPort": p.get("published"),
                            "PublishMode": p["mode"]})
                for p in task["ports"]
            ],
        }),
    }  # fmt: skip
    for key, value in (
        ("UpdateConfig", _engine_update(service["update_config"])),
        ("RollbackConfig", _engine_update(service["rollback_config"])),
    ):
        if value:
            out[key] = value
    return out


def _mount(stack: SwarmStack, m: Any) -> dict[str, Any]:
    kind = m.type.value
    source = m.source
    if kind == "volume" and source:
        source = stack.desired.volume_name(source)
    # Compose's mount options, as a service's Mount takes them (z/Z, create_host_path and
    # subpath have no field there at API 1.41: the plan warns, envkit.reconcile.swarm_warnings).
    tmpfs = _drop_none({"SizeBytes": m.tmpfs_size, "Mode": m.tmpfs_mode})
    return _drop_none(
        {
            "Type": kind,
            "Source": source or None,
            "Target": m.target,
            "ReadOnly": m.read_only or None,
            "VolumeOptions": {"NoCopy": True} if m.no_copy else None,
            "BindOptions": {"Propagation": m.propagation.value} if m.propagation else None,
            "TmpfsOptions": tmpfs or None,
        }
    )

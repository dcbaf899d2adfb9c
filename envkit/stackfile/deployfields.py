"""Compose's ``deploy`` and ``scale`` on a single engine, as the service keys envkit has.

- ``scale: N`` and ``deploy.replicas: N`` are ``replicas: N``;
- ``deploy.resources.limits.cpus`` / ``.memory`` are ``cpus`` / ``mem_limit``;
- ``deploy.restart_policy.condition``: ``none`` is ``restart: "no"``, ``on-failure`` is
  ``on-failure`` (``:max_attempts`` when given), ``any`` is ``always``.

A value given both ways must agree (Compose refuses a conflict too). Everything else in
``deploy`` (mode, placement, update_config, reservations, ...) applies to a Docker Swarm:
in an environment whose engine is ``{swarm: ...}`` it is read by
:mod:`envkit.stackfile.swarmkeys`; on one engine each such key is a located warning
(``swarm-only``), not an error, so one file serves a laptop and a cluster.
"""

from __future__ import annotations

from typing import Any

from envkit.errors import DocPath
from envkit.stackfile.treereader import TreeReader

__all__ = ["on_swarm", "with_deploy"]

_CONDITIONS = {"none": "no", "on-failure": "on-failure", "any": "always"}


def with_deploy(reader: TreeReader, svc: dict[str, Any], at: DocPath) -> dict[str, Any]:
    """``svc`` with its ``deploy`` and ``scale`` turned into envkit's keys."""
    deploy = reader.mapping(svc.get("deploy"), (*at, "deploy"))
    if not deploy and "scale" not in svc:
        return svc
    limits = reader.mapping(
        reader.mapping(deploy.get("resources"), (*at, "deploy", "resources")).get("limits"),
        (*at, "deploy", "resources", "limits"),
    )
    policy = reader.mapping(deploy.get("restart_policy"), (*at, "deploy", "restart_policy"))
    restart = None
    if policy:
        condition = policy.get("condition", "any")
        restart = _CONDITIONS.get(str(condition))
        if restart is None:
            reader.fail(
                "invalid-restart",
                "{value} is not a restart condition",
                (*at, "deploy", "restart_policy", "condition"),
                value=condition,
                hint="use none, on-failure or any",
            )
        attempts = policy.get("max_attempts")
        if restart == "on-failure" and isinstance(attempts, int) and not isinstance(attempts, bool):
            restart = f"on-failure:{attempts}"
    wanted = {
        "replicas": (svc.get("scale"), (*at, "scale")),
        "cpus": (limits.get("cpus"), (*at, "deploy", "resources", "limits", "cpus")),
        "mem_limit": (limits.get("memory"), (*at, "deploy", "resources", "limits", "memory")),
        "restart": (restart, (*at, "deploy", "restart_policy")),
    }
    if deploy.get("replicas") is not None:
        wanted["replicas"] = (deploy["replicas"], (*at, "deploy", "replicas"))
    out = {k: v for k, v in svc.items() if k not in ("deploy", "scale")}
    for key, (value, path) in wanted.items():
        if value is None:
            continue
        if key in out and out[key] != value and str(out[key]) != str(value):
            reader.fail(
                "conflicting-keys",
                f"'{key}' is {out[key]!r} here, but {value!r} under {path[-1]}",
                path,
                hint=f"keep one of them (they mean the same: {key})",
            )
            continue
        out[key] = value
    return out


def on_swarm(reader: TreeReader) -> bool:
    """True when the environment being read deploys to a Swarm (``engine: {swarm: ...}``)."""
    doc = reader.rendered.document
    envs = doc.data.get("environments") if doc is not None else None
    env = envs.get(reader.rendered.environment) if isinstance(envs, dict) else None
    engine = env.get("engine") if isinstance(env, dict) else None
    return isinstance(engine, dict) and "swarm" in engine

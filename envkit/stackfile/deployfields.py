"""Compose's ``deploy`` and ``scale`` on a single engine, as the service keys envkit has.

- ``scale: N`` and ``deploy.replicas: N`` are ``replicas: N``;
- ``deploy.resources.limits.cpus`` / ``.memory`` are ``cpus`` / ``mem_limit``;
- ``deploy.restart_policy.condition``: ``none`` is ``restart: "no"``, ``on-failure`` is
  ``on-failure`` (``:max_attempts`` when given), ``any`` is ``always``.

A value given both ways must agree (Compose refuses a conflict too). Everything else in
``deploy`` (placement, update_config, reservations, ...) applies to Swarm and is refused
with ``unsupported-compose-key`` by the schema.
"""

from __future__ import annotations

from typing import Any

from envkit.errors import DocPath
from envkit.stackfile.treereader import TreeReader

__all__ = ["with_deploy"]

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

"""What changes when an environment runs as an instance (``--instance ID``, ``--ephemeral``).

Pure functions over the desired state, applied by :func:`envkit.stackfile.pipeline.resolve`:

- :func:`random_ports`: for an environment with ``ephemeral_ports: true``, every published
  port of an *instance* gets an engine-chosen host port (the host IP is kept), so any
  number of instances run side by side. The environment itself (no instance id) keeps its
  fixed ports: ``envkit up ci`` stays reachable where the stack says.
- :func:`shared_names`: names that every instance would share. Containers, the network and
  named volumes are namespaced by the project already; an ``external`` volume is not, so
  two instances mounting it read-write would write the same data: refused, naming the
  volume and the service. A fixed host port without ``ephemeral_ports`` is left to the
  plan: the second instance is refused there with ``port-in-use``, naming the holder.
- :func:`new_instance_id`: the id ``up --ephemeral`` makes.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from typing import Any

from envkit.errors import Diagnostic, Origin, UsageError
from envkit.model import DesiredState, MountType

__all__ = [
    "INSTANCE_ID",
    "check_instance_id",
    "ephemeral_ports_flag",
    "new_instance_id",
    "random_ports",
    "shared_names",
]

INSTANCE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def check_instance_id(value: str, *, what: str = "instance") -> str:
    """``value`` if it is a valid instance id, else a UsageError (code ``invalid-instance``)
    saying what is wrong with it; ``what`` names it as the user wrote it (``--instance``)."""
    if isinstance(value, str) and INSTANCE_ID.fullmatch(value):
        return value
    text = str(value)
    bad = next((ch for ch in text if not re.fullmatch(r"[a-z0-9_-]", ch)), None)
    if not text:
        why = " (it is empty)"
    elif bad is not None:
        why = f": {bad!r} at position {text.index(bad) + 1} is not allowed"
    elif len(text) > 63:
        why = f" ({len(text)} characters, at most 63)"
    else:
        why = f": it starts with {text[0]!r}"
    raise UsageError(
        f"{what} {value!r} is not a valid instance id{why}",
        hint="use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit",
        code="invalid-instance",
    )


def new_instance_id() -> str:
    """8 lowercase hex characters (32 random bits): unique among the instances of a host."""
    return secrets.token_hex(4)


def random_ports(desired: DesiredState) -> DesiredState:
    """Every published port with an engine-chosen host port; the host IP stays."""
    services = tuple(
        replace(s, ports=tuple(replace(p, published=None, published_last=None) for p in s.ports))
        for s in desired.services
    )
    return replace(desired, services=services)


def ephemeral_ports_flag(
    environment_def: Any, path: tuple[str | int, ...], origin: Origin | None
) -> bool | Diagnostic:
    """The ``ephemeral_ports`` setting of an environment definition: a boolean, or a
    diagnostic when it is not one (it is read before templating, so a template is one)."""
    value = environment_def.get("ephemeral_ports") if isinstance(environment_def, dict) else None
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return Diagnostic(
        "invalid-type",
        f"'{value}' is not true or false",
        path,
        origin,
        "write true or false (this setting is read before templates are rendered)",
    )


def shared_names(desired: DesiredState) -> list[tuple[str, str, str]]:
    """For an instance: ``(service, volume, message)`` for every external volume a service
    mounts read-write (every instance would write the same data)."""
    if not desired.instance:
        return []
    external = {v.name for v in desired.volumes if v.external}
    out = []
    for svc in desired.services:
        for m in svc.mounts:
            if m.type is MountType.VOLUME and m.source in external and not m.read_only:
                out.append(
                    (
                        svc.name,
                        m.source,
                        f"instance {desired.instance!r}: service {svc.name} mounts the external "
                        f"volume {m.source} read-write, and every instance of "
                        f"{desired.stack}-{desired.environment} would share it",
                    )
                )
    return out

"""Anonymous volumes across a recreate, as Compose keeps them (pure).

An anonymous volume is one without a name in the stack: a bare ``/data`` entry under a
service's ``volumes``, or a ``VOLUME`` the image declares (mysql's, postgres's, mariadb's
data folder). Compose keeps them when it recreates a container: the new container gets the
old one's anonymous volumes mounted at the same paths (docker-compose 1.29.2,
``get_container_data_volumes``). envkit does the same:

A volume the old container had mounted at a path is **carried over** when

- it is not a volume of the stack (named or external), and
- the new service does not mount something else there (a bind, a named volume, a tmpfs),
  and
- the path is a bare entry of the new service, or was not an entry of the old service at
  all (so it was the image's ``VOLUME``).

A bare entry the stack no longer has is not carried (Compose neither). ``up
--renew-anon-volumes`` (``-V``) carries nothing: the new container gets fresh volumes.
Volumes that are not carried stay on disk (labelled ``io.envkit.anonymous`` when envkit made
them); ``down --volumes`` and ``gc`` remove them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envkit.engine.base import ObservedContainer
from envkit.model import DesiredState, MountType, ServiceSpec

__all__ = ["carried_volumes"]


def carried_volumes(
    desired: DesiredState, before: ObservedContainer, spec: ServiceSpec
) -> tuple[tuple[str, str], ...]:
    """``(target, volume name)`` of every anonymous volume of ``before`` that the new
    container of ``spec`` takes over."""
    stack_volumes = {desired.volume_name(v.name) for v in desired.volumes}
    explicit = {m.target for m in spec.mounts if m.source}
    explicit |= {entry.split(":", 1)[0] for entry in spec.tmpfs}
    new_bare = {m.target for m in spec.mounts if m.type is MountType.VOLUME and not m.source}
    old_entries = _old_targets(before.spec)
    out: list[tuple[str, str]] = []
    for target, volume in before.volume_mounts:
        if volume in stack_volumes or target in explicit:
            continue
        if target in new_bare or target not in old_entries:
            out.append((target, volume))
    return tuple(sorted(out))


def _old_targets(spec: Mapping[str, Any]) -> set[str]:
    """Every path the old service mounted (its canonical spec, from the container's label)."""
    mounts = spec.get("mounts")
    targets = {
        str(m.get("target"))
        for m in (mounts if isinstance(mounts, list) else ())
        if isinstance(m, dict)
    }
    tmpfs = spec.get("tmpfs")
    targets |= {str(t).split(":", 1)[0] for t in (tmpfs if isinstance(tmpfs, list) else ())}
    return targets

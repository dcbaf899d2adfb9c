"""A service's mounts as the engine's create request takes them: ``HostConfig.Mounts``, or
``HostConfig.Binds`` strings where only those can say it.

Compose (docker/compose ``buildContainerVolumes``) uses the Mount API, and the older Binds
API for a bind mount whose source the engine should create when it is missing
(``create_host_path``): only Binds does that. envkit does the same, and also sends a mount
with an SELinux relabel (``z``/``Z``) as a Binds string, the one place the engine reads
that option (the Mount API has no field for it). ``subpath`` needs engine API 1.45; an older
engine gets a located error instead of a mount of the whole volume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envkit.errors import EngineError
from envkit.model import DesiredState, Mount, MountType, ServiceSpec

__all__ = ["SUBPATH_API", "container_mounts"]

SUBPATH_API = (1, 45)  # the first engine API with VolumeOptions.Subpath (Docker 26)


def container_mounts(
    api_version: str,
    desired: DesiredState,
    spec: ServiceSpec,
    anonymous: Mapping[str, tuple[str, bool]],
) -> tuple[list[Any], list[str]]:
    """``(mounts, binds)`` for ``spec``'s container: the declared mounts but the anonymous
    volumes, which are mounted from ``anonymous`` (target -> (volume, read-only))."""
    from docker.types import Mount as SdkMount

    mounts: list[Any] = []
    binds: list[str] = []
    for m in spec.mounts:
        if m.target in anonymous:
            continue
        source = (
            desired.volume_name(m.source)
            if m.type is MountType.VOLUME and m.source
            else m.source or None
        )
        if m.selinux or (m.type is MountType.BIND and m.create_host_path):
            binds.append(_bind_text(str(source), m))
            continue
        mount = SdkMount(
            target=m.target,
            source=source,
            type=m.type.value,
            read_only=m.read_only,
            propagation=m.propagation.value if m.propagation else None,
            no_copy=m.no_copy,
            tmpfs_size=m.tmpfs_size,
            tmpfs_mode=m.tmpfs_mode,
        )
        if m.subpath:
            _check_subpath(api_version, spec, m)
            mount.setdefault("VolumeOptions", {})["Subpath"] = m.subpath
        mounts.append(mount)
    declared = {m.target: m for m in spec.mounts}
    mounts += [
        SdkMount(
            target=target,
            source=volume,
            type="volume",
            read_only=read_only,
            no_copy=target in declared and declared[target].no_copy,
        )
        for target, (volume, read_only) in anonymous.items()
    ]
    return mounts, binds


def _bind_text(source: str, m: Mount) -> str:
    """``SOURCE:TARGET:ro,z,rshared`` (the engine's ``-v`` syntax)."""
    modes = ["ro" if m.read_only else "rw"]
    modes += [m.selinux] if m.selinux else []
    modes += [m.propagation.value] if m.propagation else []
    modes += ["nocopy"] if m.no_copy else []
    return f"{source}:{m.target}:{','.join(modes)}"


def _check_subpath(api_version: str, spec: ServiceSpec, m: Mount) -> None:
    try:
        version = tuple(int(p) for p in api_version.split("."))
    except ValueError:
        version = (0,)
    if version < SUBPATH_API:
        raise EngineError(
            f"service {spec.name}: the volume mount at {m.target} has subpath {m.subpath!r}, "
            f"which needs engine API {'.'.join(map(str, SUBPATH_API))} (Docker 26 or later); "
            f"this engine speaks API {api_version}",
            code="engine-too-old",
            origin=spec.origin,
            hint="upgrade the engine, or mount the whole volume and use the folder inside it",
        )

"""The Docker engine API's JSON read into envkit's observed values (pure).

:mod:`envkit.engine.docker` makes the calls; this module only reads what they return: the
container list (``GET /containers/json``: state, health and exit code from its ``Status``
text, published ports, labels, creation time, network attachments, command), container
and image inspect, the network, volume and image lists, and image references as the
engine names them. It does not import
the docker SDK, so ``tests/unit/test_docker_json.py`` replays recorded daemon JSON
through it without an engine.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from envkit.engine.base import (
    ContainerStatus,
    ImageInfo,
    ObservedContainer,
    ObservedNetwork,
    ObservedVolume,
    PortBinding,
)
from envkit.model import LABEL

__all__ = [
    "Json",
    "exit_code_from_status",
    "health_from_status",
    "image_ids",
    "image_tagged_at",
    "label_filters",
    "labels_of",
    "normalize_ref",
    "parse_container",
    "parse_image_info",
    "parse_network",
    "parse_status",
    "parse_volume",
    "split_tag",
]

Json = Mapping[str, Any]  # one object of the engine's JSON, as the SDK decodes it

_EXITED = re.compile(r"Exited \((-?\d+)\)")
_HEALTH_LOG = 5  # last probe outputs kept in ContainerStatus.health_log


def label_filters(labels: Mapping[str, str | None]) -> dict[str, list[str]]:
    """The engine's ``filters`` for objects carrying ``labels`` (None: the key, any value)."""
    return {"label": [k if v is None else f"{k}={v}" for k, v in labels.items()]}


def labels_of(obj: Json) -> dict[str, str]:
    labels = obj.get("Labels")
    return dict(labels) if isinstance(labels, dict) else {}


def exit_code_from_status(status: str) -> int | None:
    """``Exited (0) 5 minutes ago`` -> 0: the list call carries it, no inspect needed."""
    found = _EXITED.match(status)
    return int(found.group(1)) if found else None


def health_from_status(status: str) -> str | None:
    """``Up 5 seconds (healthy)`` -> ``healthy``; None when the container has no check."""
    if "(healthy)" in status:
        return "healthy"
    if "(unhealthy)" in status:
        return "unhealthy"
    if "(health: starting)" in status:
        return "starting"
    return None


def _rfc3339(created: Any) -> str:
    """The list call's ``Created`` (epoch seconds) as RFC 3339 UTC; text is kept as is."""
    if isinstance(created, int | float):
        return datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z")
    return str(created or "")


def _published(ports: Iterable[Json]) -> tuple[PortBinding, ...]:
    """The published ones of a container's ``Ports``, sorted (target, protocol, host ip)."""
    found = (
        PortBinding(
            target=int(p.get("PrivatePort", 0)),
            protocol=str(p.get("Type", "tcp")),
            host_ip=str(p.get("IP", "")),
            host_port=int(p["PublicPort"]),
        )
        for p in ports
        if p.get("PublicPort")
    )
    return tuple(sorted(found, key=lambda b: (b.target, b.protocol, b.host_ip)))


def parse_container(raw: Json) -> ObservedContainer:
    """One entry of the container list (not inspect: ``observe`` makes no per-container
    call). A missing or corrupt ``io.envkit.spec`` label reads as ``{}``, a bad replica
    label as 0."""
    labels = labels_of(raw)
    try:
        spec = json.loads(labels.get(LABEL.SPEC, ""))
    except ValueError:
        spec = {}
    try:
        replica = int(labels.get(LABEL.REPLICA, "0"))
    except ValueError:
        replica = 0
    status = str(raw.get("Status", ""))
    return ObservedContainer(
        id=str(raw.get("Id", "")),
        name=str((raw.get("Names") or [""])[0]).lstrip("/"),
        project=labels.get(LABEL.PROJECT, ""),
        service=labels.get(LABEL.SERVICE, ""),
        replica=replica,
        spec_hash=labels.get(LABEL.SPEC_HASH, ""),
        spec=spec if isinstance(spec, dict) else {},
        image_id=str(raw.get("ImageID", "")),
        state=str(raw.get("State", "")),
        health=health_from_status(status),
        ports=_published(raw.get("Ports") or ()),
        exit_code=exit_code_from_status(status),
        labels=labels,
        created=_rfc3339(raw.get("Created")),
        networks=_attachments(raw.get("NetworkSettings")),
        command=raw["Command"] if isinstance(raw.get("Command"), str) else None,
        volume_mounts=tuple(
            (str(m.get("Destination", "")), str(m.get("Name", "")))
            for m in raw.get("Mounts") or ()
            if isinstance(m, dict) and m.get("Type") == "volume" and m.get("Name")
        ),
        volumes=tuple(
            sorted(
                str(m.get("Name"))
                for m in raw.get("Mounts") or ()
                if isinstance(m, dict) and m.get("Type") == "volume" and m.get("Name")
            )
        ),
    )


def _attachments(settings: Any) -> dict[str, str] | None:
    """A container list entry's ``NetworkSettings.Networks``: network name -> network id
    (``""`` before the first start). None when the entry has no ``NetworkSettings``."""
    if not isinstance(settings, dict):
        return None
    networks = settings.get("Networks")
    if not isinstance(networks, dict):
        return {}
    return {
        str(name): str((endpoint or {}).get("NetworkID") or "")
        for name, endpoint in networks.items()
    }


def parse_network(raw: Json) -> ObservedNetwork:
    return ObservedNetwork(
        id=str(raw.get("Id", "")),
        name=str(raw.get("Name", "")),
        labels=labels_of(raw),
        created=str(raw.get("Created") or ""),
        scope=str(raw.get("Scope") or "local"),
    )


def parse_volume(raw: Json) -> ObservedVolume:
    return ObservedVolume(
        name=str(raw.get("Name", "")),
        labels=labels_of(raw),
        created=str(raw.get("CreatedAt") or ""),
    )


def parse_status(inspect: Json) -> ContainerStatus:
    """A container's inspect JSON: its state, health, exit code (only once it has exited)
    and the last few health probe outputs."""
    state = inspect.get("State") or {}
    health = state.get("Health") or None
    status = str(state.get("Status", "unknown"))
    exit_code = state.get("ExitCode") if status in ("exited", "dead") else None
    log = tuple(
        f"exit {entry.get('ExitCode')}: {str(entry.get('Output', '')).strip()}"
        for entry in ((health or {}).get("Log") or [])[-_HEALTH_LOG:]
    )
    return ContainerStatus(
        state=status,
        health=str(health["Status"]) if health and health.get("Status") else None,
        exit_code=int(exit_code) if exit_code is not None else None,
        health_log=log,
    )


def parse_image_info(inspect: Json) -> ImageInfo:
    """An image's inspect JSON: id, tags and size."""
    return ImageInfo(
        id=str(inspect["Id"]),
        tags=tuple(inspect.get("RepoTags") or ()),
        size=int(inspect.get("Size") or 0),
    )


_GO_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def image_tagged_at(inspect: Json) -> float | None:
    """When the engine last tagged the image (``Metadata.LastTagTime``: a pull that
    tags it, ``docker tag``, a build), as epoch seconds; None when it has never recorded
    one (the zero time ``0001-01-01T00:00:00Z``) or the value does not parse."""
    text = str((inspect.get("Metadata") or {}).get("LastTagTime") or "")
    match = _GO_TIME.fullmatch(text)
    if match is None or text.startswith("0001-"):
        return None
    base, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    return stamp.timestamp() + float(f"0.{fraction}" if fraction else 0)


def image_ids(images: Iterable[Json], refs: Iterable[str]) -> dict[str, str | None]:
    """Each reference's local image id in the image list (None: not on the engine). A
    reference matches a tag, a digest or an id, Docker Hub's long spellings included."""
    index: dict[str, str] = {}
    for image in images:
        for tag in image.get("RepoTags") or ():
            index[normalize_ref(tag)] = image["Id"]
        for digest in image.get("RepoDigests") or ():
            index[normalize_ref(digest)] = image["Id"]
        index[image["Id"]] = image["Id"]
    return {ref: index.get(normalize_ref(ref)) or index.get(ref) for ref in sorted(refs)}


# -- image references as the engine names them -------------------------------------------


def split_tag(ref: str) -> tuple[str, str | None]:
    """``repo:tag`` -> (repo, tag); ``repo@sha256:...`` -> (repo, digest); no tag: latest."""
    if "@" in ref:
        repo, digest = ref.split("@", 1)
        return repo, digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, "latest"


def normalize_ref(ref: str) -> str:
    """``busybox`` and ``docker.io/library/busybox:latest`` -> ``busybox:latest``."""
    if ref.startswith("sha256:"):
        return ref
    repo, tag = split_tag(ref)
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if repo.startswith(prefix):
            repo = repo.removeprefix(prefix)
            break
    sep = "@" if tag and tag.startswith("sha256:") else ":"
    return f"{repo}{sep}{tag}"

"""The ``docker save`` archive inside a bundle (under images/): what it would make the
engine do, checked against envkit's manifest before anything is loaded (pure).

``docker load`` applies the tags written in the archive's own ``manifest.json`` (its
``RepoTags``), or in ``repositories`` when there is no manifest.json, and the containerd
image store reads the names in ``index.json``. A crafted bundle could add a tag there that
envkit's manifest (and so ``bundle inspect``) does not show, and the engine would move that
tag to the bundle's image (``envkit/mariadb:latest`` onto something else). So every name in
those files must be a reference envkit's manifest lists for that very image, every image in
the archive must be one the manifest lists, and the other way round.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envkit.bundle.format import BundleError, Manifest, parse_json

__all__ = ["ARCHIVE_FILES", "ArchiveImage", "check_archive", "familiar"]

ARCHIVE_FILES = ("manifest.json", "repositories", "index.json")  # under images/


@dataclass(frozen=True, slots=True)
class ArchiveImage:
    """One entry of the archive's manifest.json."""

    id: str  # sha256:<config digest>
    config: str  # member name, relative to images/
    layers: tuple[str, ...]
    tags: tuple[str, ...]


def familiar(ref: str) -> str:
    """The name docker prints for ``ref``: ``docker.io/library/x:1`` -> ``x:1``."""
    for prefix in ("docker.io/", "index.docker.io/"):
        if ref.startswith(prefix):
            ref = ref.removeprefix(prefix)
            break
    else:
        return ref
    return ref.removeprefix("library/")


def _tampered(what: str) -> BundleError:
    return BundleError(
        f"the bundle's image archive {what}; nothing was loaded",
        code="bundle-tampered",
        hint="this file was not made by `envkit bundle save` or was changed afterwards; get "
        "the bundle again from a trusted source",
    )


def _config_id(config: str) -> str:
    name = config.removeprefix("./")
    if name.startswith("blobs/sha256/"):
        return "sha256:" + name.removeprefix("blobs/sha256/")
    return "sha256:" + name.removesuffix(".json")


def _entries(raw: bytes) -> list[ArchiveImage]:
    data: Any = _json_list(raw, "images/manifest.json")
    out = []
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise _tampered("has an entry without a Config in manifest.json")
        tags = entry.get("RepoTags") or []
        layers = entry.get("Layers") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise _tampered("has RepoTags that are not a list of names")
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise _tampered("has Layers that are not a list of paths")
        config = entry["Config"]
        out.append(ArchiveImage(_config_id(config), config, tuple(layers), tuple(tags)))
    return out


def _json_list(raw: bytes, member: str) -> list[Any]:
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _tampered(f"has a {member} that is not JSON") from exc
    if not isinstance(data, list):
        raise _tampered(f"has a {member} that is not a list")
    return data


def check_archive(manifest: Manifest, files: Mapping[str, bytes]) -> list[ArchiveImage]:
    """The archive's images, when its names and images are exactly the manifest's; else
    BundleError. ``files``: the contents of :data:`ARCHIVE_FILES` found under images/."""
    allowed = {im.id: {familiar(r) for r in im.refs} for im in manifest.images}
    every = {r for refs in allowed.values() for r in refs}
    raw = files.get("manifest.json")
    if raw is None:
        if not manifest.images:
            return []
        raise _tampered("has no manifest.json")
    entries = _entries(raw)
    seen: set[str] = set()
    for entry in entries:
        if entry.id not in allowed:
            raise _tampered(f"holds an image ({entry.id[:19]}) that the bundle's manifest lacks")
        if entry.id in seen:
            raise _tampered(f"lists the image {entry.id[:19]} twice")
        seen.add(entry.id)
        for tag in entry.tags:
            if familiar(tag) not in allowed[entry.id]:
                raise _tampered(
                    f"would tag {entry.id[:19]} as {tag!r}, a name the bundle's manifest does "
                    "not give it"
                )
    missing = [im.id for im in manifest.images if im.id not in seen]
    if missing:
        raise _tampered(f"lacks the image {missing[0][:19]} that the manifest lists")
    repositories = files.get("repositories")
    if repositories is not None:
        data = parse_json(repositories, "images/repositories")
        for repo, tags in data.items():
            names = [f"{repo}:{t}" for t in tags] if isinstance(tags, dict) else [repo]
            for name in names:
                if familiar(name) not in every:
                    raise _tampered(f"would tag an image as {name!r} (in repositories)")
    index = files.get("index.json")
    if index is not None:
        for item in parse_json(index, "images/index.json").get("manifests") or []:
            annotations = item.get("annotations") if isinstance(item, dict) else None
            image_name = (annotations or {}).get("io.containerd.image.name")
            if image_name is not None and familiar(str(image_name)) not in every:
                raise _tampered(f"would name an image {image_name!r} (in index.json)")
    return entries

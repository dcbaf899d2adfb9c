"""The bundle format (pure): member names, the header, the manifest, and the checks.

A bundle is one tar archive (gzip by default, zstd on request, plain tar accepted)::

    envkit-bundle.json        first: format, format_version, envkit version, stack, env
    stack/...                 the stack file, its env files (values blanked unless
                              --include-secrets) and read-only bind-mount sources
    images/...                the members of ONE `docker save` of every image, renamed
                              under images/ (layers shared by images are stored once)
    manifest.json             last: everything in the header, each image's id, tags and
                              size, and type, size and sha256 of every other member

The manifest is last because the digests of the images' members are known only once
they were streamed; the header is first so that a file that is not a bundle, or one from a
newer format, is refused after reading a few hundred bytes.
"""

from __future__ import annotations

import json
import posixpath
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envkit.errors import EnvkitError, Origin

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "HEADER",
    "IMAGES",
    "MANIFEST",
    "STACK",
    "BundleError",
    "ImageRecord",
    "MalformedBundle",
    "Manifest",
    "MemberRecord",
    "check_member",
    "compare_members",
]

FORMAT = "envkit-bundle"
FORMAT_VERSION = 1
HEADER = "envkit-bundle.json"
MANIFEST = "manifest.json"
STACK = "stack/"
IMAGES = "images/"


class BundleError(EnvkitError):
    """A bundle that cannot be used: not a bundle, newer format, damaged, unsafe."""

    code = "bad-bundle"


class MalformedBundle(BundleError):
    """A bundle whose header or manifest is not envkit's JSON (bad input: exit 2)."""

    code = "bundle-damaged"
    exit_code = 2


MAX_JSON_DEPTH = 32  # envkit's own documents nest 4 deep
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


@dataclass(frozen=True, slots=True)
class MemberRecord:
    name: str
    type: str  # file | dir | symlink | hardlink
    size: int = 0
    sha256: str = ""  # files only
    target: str = ""  # links only

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.type == "file":
            out.update(size=self.size, sha256=self.sha256)
        if self.target:
            out["target"] = self.target
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MemberRecord:
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            size=int(data.get("size", 0)),
            sha256=str(data.get("sha256", "")),
            target=str(data.get("target", "")),
        )


@dataclass(frozen=True, slots=True)
class ImageRecord:
    id: str
    refs: tuple[str, ...]  # the names the stack uses (saved as tags)
    tags: tuple[str, ...]  # every tag the image had when saved
    size: int
    services: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "refs": list(self.refs),
            "tags": list(self.tags),
            "size": self.size,
            "services": list(self.services),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageRecord:
        return cls(
            id=str(data["id"]),
            refs=tuple(str(r) for r in data.get("refs", ())),
            tags=tuple(str(t) for t in data.get("tags", ())),
            size=int(data.get("size", 0)),
            services=tuple(str(s) for s in data.get("services", ())),
        )


@dataclass(frozen=True, slots=True)
class Manifest:
    envkit_version: str
    created: str  # RFC 3339 UTC
    stack: str
    environment: str
    stack_file: str  # member name of the stack file
    secrets: str  # "omitted" | "included"
    compression: str  # gzip | zstd | none
    images: tuple[ImageRecord, ...]
    members: tuple[MemberRecord, ...] = ()
    omitted: tuple[str, ...] = ()  # files the stack refers to that are not in the bundle
    secret_files: tuple[str, ...] = ()  # secret files left out or blanked, each with why
    format_version: int = FORMAT_VERSION

    def header_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "envkit_version": self.envkit_version,
            "created": self.created,
            "stack": self.stack,
            "environment": self.environment,
            # read before the images: which ones the engine may already have (checked
            # against the manifest at the end)
            "image_ids": [i.id for i in self.images],
        }

    def to_json(self) -> dict[str, Any]:
        return {
            **self.header_json(),
            "stack_file": self.stack_file,
            "secrets": self.secrets,
            "compression": self.compression,
            "images": [i.to_json() for i in self.images],
            "omitted": list(self.omitted),
            "secret_files": list(self.secret_files),
            "members": [m.to_json() for m in self.members],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        check_header(data, MANIFEST)
        try:
            return cls(
                format_version=int(data["format_version"]),
                envkit_version=str(data["envkit_version"]),
                created=str(data["created"]),
                stack=str(data["stack"]),
                environment=str(data["environment"]),
                stack_file=str(data["stack_file"]),
                secrets=str(data["secrets"]),
                compression=str(data.get("compression", "")),
                images=tuple(ImageRecord.from_json(i) for i in data["images"]),
                members=tuple(MemberRecord.from_json(m) for m in data["members"]),
                omitted=tuple(str(o) for o in data.get("omitted", ())),
                secret_files=tuple(str(o) for o in data.get("secret_files", ())),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MalformedBundle(
                f"the bundle's {MANIFEST} is malformed ({type(exc).__name__}: {exc})",
                hint="make the bundle again with `envkit bundle save`",
            ) from exc


def to_bytes(data: Mapping[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=False) + "\n").encode()


def parse_json(raw: bytes, member: str, bundle: str = "") -> dict[str, Any]:
    """The JSON object in ``member``; MalformedBundle, located (``bundle:member:line:col``),
    when it is not JSON, nests deeper than :data:`MAX_JSON_DEPTH`, or is not an object."""
    where = f"{bundle}:{member}" if bundle else member
    deep = _too_deep(raw)
    if deep is not None:
        raise MalformedBundle(
            f"{member} in the bundle nests deeper than {MAX_JSON_DEPTH} levels",
            origin=_origin(raw, deep, where),
            hint="this file was not made by `envkit bundle save`; get the bundle again "
            "from a trusted source",
        )
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        at = getattr(exc, "pos", None)
        raise MalformedBundle(
            f"{member} in the bundle is not JSON ({getattr(exc, 'msg', exc)})",
            origin=_origin(raw, at, where) if isinstance(at, int) else None,
            hint="make the bundle again with `envkit bundle save`",
        ) from exc
    if not isinstance(data, dict):
        raise MalformedBundle(
            f"{member} in the bundle is not a JSON object", origin=_origin(raw, 0, where)
        )
    return data


def _too_deep(raw: bytes) -> int | None:
    """The offset where brackets first nest past MAX_JSON_DEPTH (strings skipped), or None."""
    depth = 0
    for token in _JSON_TOKEN.finditer(raw):
        char = raw[token.start()]
        if char in b"[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return token.start()
        elif char in b"]}":
            depth -= 1
    return None


def _origin(raw: bytes, offset: int, where: str) -> Origin:
    line = raw.count(b"\n", 0, offset) + 1
    col = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return Origin(where, line, col)


def check_header(data: Mapping[str, Any], member: str = HEADER) -> None:
    """Refuse what is not a bundle, and bundles of a newer format, by their header."""
    if data.get("format") != FORMAT:
        raise BundleError(
            f"not an envkit bundle ({member} does not say format {FORMAT!r})",
            code="not-a-bundle",
            hint="give a file made by `envkit bundle save`",
        )
    version = data.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise BundleError(
            f"the bundle's format_version {version!r} is not a version",
            code="bundle-damaged",
            hint="make the bundle again with `envkit bundle save`",
        )
    if version > FORMAT_VERSION:
        made_by = data.get("envkit_version", "a newer envkit")
        raise BundleError(
            f"the bundle has format version {version} (made by envkit {made_by}); "
            f"this envkit reads format version {FORMAT_VERSION} and older",
            code="bundle-newer-format",
            hint="upgrade envkit where you load it, or save the bundle with this version",
        )


_TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
}


def unsafe(name: str, why: str) -> BundleError:
    return BundleError(
        f"the bundle's member {name!r} {why}; nothing was loaded",
        code="unsafe-member",
        hint="this file was not made by `envkit bundle save` or was tampered with; "
        "get the bundle again from a trusted source",
    )


def check_member(info: tarfile.TarInfo) -> MemberRecord:
    """The record of a tar member, or BundleError when it is unsafe: an absolute path,
    ``..``, a device/fifo, a link pointing outside the bundle, a link outside images/."""
    name = info.name
    if not name or "\0" in name or "\\" in name:
        raise unsafe(name, "has an invalid name")
    if name.startswith("/") or posixpath.isabs(name):
        raise unsafe(name, "has an absolute path")
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        raise unsafe(name, "contains '..'")
    kind = _TYPES.get(info.type)
    if kind is None:
        raise unsafe(name, "is not a file, folder or link (a device, fifo or unknown type)")
    clean = posixpath.normpath(name)
    target = ""
    if kind in ("symlink", "hardlink"):
        target = info.linkname
        if not clean.startswith(IMAGES):
            raise unsafe(name, "is a link outside images/")
        if target.startswith("/") or not target:
            raise unsafe(name, f"is a link to the absolute path {target!r}")
        base = posixpath.dirname(clean) if kind == "symlink" else ""
        resolved = posixpath.normpath(posixpath.join(base, target))
        if resolved == ".." or resolved.startswith("../") or not resolved.startswith(IMAGES):
            raise unsafe(name, f"is a link pointing outside the bundle's images ({target!r})")
    return MemberRecord(
        name=clean,
        type=kind,
        size=info.size if kind == "file" else 0,
        target=target,
    )


def compare_members(recorded: tuple[MemberRecord, ...], seen: list[MemberRecord]) -> None:
    """Every member the manifest records is in the archive, identical, and nothing else is."""
    by_name = {m.name: m for m in recorded}
    found = set()
    for member in seen:
        want = by_name.get(member.name)
        if want is None:
            raise BundleError(
                f"the bundle's member {member.name!r} is not in its manifest; nothing was loaded",
                code="bundle-tampered",
                hint="get the bundle again from a trusted source",
            )
        found.add(member.name)
        if want != member:
            what = (
                "its sha256 differs from the manifest"
                if want.type == member.type == "file" and want.size == member.size
                else f"it differs from the manifest ({_describe(member)} instead of "
                f"{_describe(want)})"
            )
            raise BundleError(
                f"the bundle's member {member.name!r} is damaged or was changed: {what}; "
                "nothing was loaded",
                code="bundle-tampered",
                hint="copy the bundle again (compare its sha256 with the one `envkit bundle "
                "save` printed) or save it again",
            )
    missing = [m.name for m in recorded if m.name not in found]
    if missing:
        raise BundleError(
            f"the bundle lacks {len(missing)} member(s) its manifest lists, e.g. "
            f"{missing[0]!r}; nothing was loaded",
            code="bundle-tampered",
            hint="copy the bundle again or save it again",
        )


def _describe(m: MemberRecord) -> str:
    if m.type == "file":
        return f"a file of {m.size} bytes"
    if m.target:
        return f"a {m.type} to {m.target!r}"
    return f"a {m.type}"

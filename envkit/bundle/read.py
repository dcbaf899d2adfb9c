"""Reading bundles: verify (every check, before anything is loaded), inspect, load, push.

``verify`` reads the whole file once: the header first (not a bundle / newer format are
refused at once), every member checked for safety (``format.check_member``) and hashed,
the manifest last, then compared member by member. Only then does ``load`` read the file a
second time and stream the images' members, as one tar, to the engine's ``docker load``;
it hashes them again on the way, and a member that changed in between aborts the stream, so
the engine (which unpacks the whole stream before it loads anything) loads nothing.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envkit.bundle.format import (
    HEADER,
    IMAGES,
    MANIFEST,
    STACK,
    BundleError,
    Manifest,
    MemberRecord,
    check_header,
    check_member,
    compare_members,
    parse_json,
)
from envkit.bundle.streams import Progress, decompressed_reader, detect
from envkit.engine.base import ImageStore

__all__ = ["Verified", "extract_stack", "load_bundle", "push_bundle", "verify_bundle"]

CHUNK = 1 << 20
_JSON_LIMIT = 64 << 20  # header, manifest and stack files are read into memory


@dataclass(frozen=True, slots=True)
class Verified:
    path: str
    compression: str
    size: int  # bytes of the file
    manifest: Manifest
    stack_files: dict[str, bytes]  # member name -> content


def _damaged(path: str, at: str | None, exc: BaseException) -> BundleError:
    where = f"at member {at!r}" if at else "at its start"
    return BundleError(
        f"the bundle {path} is truncated or damaged ({where}: {exc}); nothing was loaded",
        code="bundle-truncated",
        hint="copy the bundle again (compare its sha256 with the one `envkit bundle save` "
        "printed) or save it again",
    )


_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, ValueError)


def _members(path: str, progress: Progress | None) -> Iterator[tuple[tarfile.TarInfo, Any]]:
    """(info, tar) of each member in order, translating decompression and tar errors."""
    last: str | None = None
    with decompressed_reader(path, progress) as (kind, reader):
        if kind == "unknown":
            raise BundleError(
                f"{path} is not an envkit bundle (not a gzip, zstd or tar file)",
                code="not-a-bundle",
                hint="give a file made by `envkit bundle save`",
            )
        try:
            tar = tarfile.open(fileobj=reader, mode="r|", bufsize=CHUNK)  # noqa: SIM115
        except _READ_ERRORS as exc:
            if kind == "none":
                raise BundleError(
                    f"{path} is not an envkit bundle (not a tar archive)", code="not-a-bundle"
                ) from exc
            raise _damaged(path, None, exc) from exc
        with tar:
            it = iter(tar)
            while True:
                try:
                    info = next(it)
                except StopIteration:
                    break
                except _READ_ERRORS as exc:
                    raise _damaged(path, last, exc) from exc
                last = info.name
                yield info, tar


def _read_small(tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    if info.size > _JSON_LIMIT:
        raise BundleError(f"the bundle's member {info.name!r} is too large", code="bundle-damaged")
    data = tar.extractfile(info)
    return data.read() if data is not None else b""


def _hash(tar: tarfile.TarFile, info: tarfile.TarInfo) -> str:
    data = tar.extractfile(info)
    digest = hashlib.sha256()
    if data is not None:
        while chunk := data.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_bundle(path: str, progress: Progress | None = None) -> Verified:
    """Every check, reading the whole file once; raises BundleError naming the problem."""
    if not os.path.isfile(path):
        raise BundleError(f"{path} does not exist or is not a file", code="bundle-not-found")
    scan = _Scan(path)
    try:
        for info, tar in _members(path, progress):
            scan.current = info.name
            scan.member(info, tar)
    except _READ_ERRORS as exc:
        raise _damaged(path, scan.current, exc) from exc
    manifest = scan.manifest
    if manifest is None:
        if not scan.seen:
            raise BundleError(f"{path} is not an envkit bundle (it is empty)", code="not-a-bundle")
        raise _damaged(path, scan.seen[-1].name, EOFError(f"no {MANIFEST} at the end"))
    compare_members(manifest.members, scan.seen)
    if manifest.stack_file not in scan.stack_files:
        raise BundleError(
            f"the bundle's manifest names the stack file {manifest.stack_file!r}, which it "
            "does not contain",
            code="bundle-tampered",
        )
    with open(path, "rb") as f:
        compression = detect(f.read(512))
    return Verified(path, compression, os.path.getsize(path), manifest, scan.stack_files)


class _Scan:
    """The state of one verifying pass."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.current: str | None = None
        self.seen: list[MemberRecord] = []
        self.names: set[str] = set()
        self.stack_files: dict[str, bytes] = {}
        self.manifest: Manifest | None = None

    def member(self, info: tarfile.TarInfo, tar: tarfile.TarFile) -> None:
        if not self.seen:
            if info.name != HEADER or not info.isfile():
                raise BundleError(
                    f"{self.path} is not an envkit bundle (its first member is "
                    f"{info.name!r}, not {HEADER})",
                    code="not-a-bundle",
                    hint="give a file made by `envkit bundle save`",
                )
            raw = _read_small(tar, info)
            check_header(parse_json(raw, HEADER))
            self.seen.append(MemberRecord(HEADER, "file", len(raw), _sha(raw)))
            self.names.add(HEADER)
            return
        if self.manifest is not None:
            raise BundleError(
                f"the bundle has a member after its manifest ({info.name!r}); nothing was loaded",
                code="bundle-tampered",
            )
        if info.name == MANIFEST:
            self.manifest = Manifest.from_json(parse_json(_read_small(tar, info), MANIFEST))
            return
        record = check_member(info)
        if record.name in self.names:
            raise BundleError(
                f"the bundle has the member {record.name!r} twice; nothing was loaded",
                code="bundle-tampered",
            )
        self.names.add(record.name)
        digest = ""
        if record.type == "file" and record.name.startswith(STACK):
            content = _read_small(tar, info)
            self.stack_files[record.name] = content
            digest = _sha(content)
        elif record.type == "file":
            if not record.name.startswith(IMAGES):
                raise BundleError(
                    f"the bundle's member {record.name!r} is neither under stack/ nor images/",
                    code="bundle-tampered",
                )
            digest = _hash(tar, info)
        self.seen.append(MemberRecord(record.name, record.type, record.size, digest, record.target))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _image_stream(verified: Verified, progress: Progress | None) -> Iterator[bytes]:
    """The images' members as one tar stream (names without images/), hashed again: a
    member that changed since verification aborts the stream."""
    current: list[str] = []
    try:
        yield from _image_members(verified, progress, current)
    except _READ_ERRORS as exc:
        raise _damaged(verified.path, current[-1] if current else None, exc) from exc


def _image_members(
    verified: Verified, progress: Progress | None, current: list[str]
) -> Iterator[bytes]:
    expected = {m.name: m for m in verified.manifest.members}
    for info, tar in _members(verified.path, progress):
        current.append(info.name)
        if not info.name.startswith(IMAGES):
            continue
        out = tarfile.TarInfo(info.name.removeprefix(IMAGES))
        for attr in ("size", "mtime", "mode", "type", "uid", "gid", "uname", "gname"):
            setattr(out, attr, getattr(info, attr))
        if info.issym():
            out.linkname = info.linkname
        elif info.islnk():
            out.linkname = info.linkname.removeprefix(IMAGES)
        yield out.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        if not info.isfile():
            continue
        data = tar.extractfile(info)
        assert data is not None
        digest = hashlib.sha256()
        sent = 0
        while chunk := data.read(CHUNK):
            digest.update(chunk)
            sent += len(chunk)
            if sent >= info.size and digest.hexdigest() != expected[info.name].sha256:
                raise BundleError(
                    f"the bundle's member {info.name!r} changed while it was loaded; the "
                    "engine loaded nothing",
                    code="bundle-tampered",
                )
            yield chunk
        if info.size % tarfile.BLOCKSIZE:
            yield b"\0" * (tarfile.BLOCKSIZE - info.size % tarfile.BLOCKSIZE)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def load_bundle(
    verified: Verified,
    engine: ImageStore,
    *,
    on_output: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> list[str]:
    """Load a verified bundle's images; returns the image refs now on the engine."""
    engine.load_images(_image_stream(verified, progress), on_output=on_output)
    present: list[str] = []
    for image in verified.manifest.images:
        info = engine.image_info(image.id)
        if info is None:
            raise BundleError(
                f"the engine did not load image {image.id} ({', '.join(image.refs)})",
                code="load-failed",
            )
        present.extend(image.refs)
    return present


def extract_stack(verified: Verified, directory: str, *, force: bool = False) -> list[str]:
    """Write the bundle's stack files under ``directory``; never outside it, never over a
    different existing file unless ``force``. Returns the paths written."""
    root = Path(directory).resolve()
    plans: list[tuple[Path, bytes]] = []
    for name, content in sorted(verified.stack_files.items()):
        target = (root / name.removeprefix(STACK)).resolve()
        if root not in target.parents:
            raise BundleError(
                f"the bundle's member {name!r} would be written outside {directory} "
                "(a symlink in the way?)",
                code="unsafe-member",
            )
        if target.exists() and not force and target.read_bytes() != content:
            raise BundleError(
                f"{target} exists and differs from the bundle's {name}",
                code="file-exists",
                hint="extract into another folder, or pass --force to overwrite",
            )
        plans.append((target, content))
    written = []
    for target, content in plans:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        written.append(str(target))
    return written


def push_bundle(
    verified: Verified,
    engine: ImageStore,
    registry: str,
    *,
    on_output: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> list[str]:
    """Load the bundle's images when the engine lacks any, tag each under ``registry``
    (``envkit.stackfile.imageref.to_registry``: the names ``environments.E.registry`` makes the stack
    use) and push them. Returns the pushed references."""
    from envkit.stackfile.imageref import to_registry

    if any(engine.image_info(i.id) is None for i in verified.manifest.images):
        load_bundle(verified, engine, on_output=on_output, progress=progress)
    pushed = []
    for image in verified.manifest.images:
        for ref in image.refs:
            target = to_registry(ref, registry)
            engine.tag_image(image.id, target)
            engine.push_image(target, on_output=on_output)
            pushed.append(target)
    return pushed

"""Verifying bundles: every check, before anything is loaded or written.

``verify`` reads the whole file once, decompressing it through a :class:`LimitedReader`
(expansion limits, :mod:`envkit.bundle.limits`): the header first (not a bundle / newer
format are refused at once), every member checked for safety (``format.check_member``) and
hashed, the manifest last, then compared member by member, and the ``docker save``
archive's own names checked against the manifest (:mod:`envkit.bundle.dockerarchive`).
Given a :class:`Spool`, the images' members are written, as the tar ``docker load`` reads,
into a private temporary file on the way, so loading needs no second decompression and
loads exactly the bytes that were verified.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import tarfile
import zlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

from envkit.bundle.dockerarchive import ARCHIVE_FILES, ArchiveImage, check_archive
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
from envkit.bundle.limits import LimitedReader, Limits, too_large
from envkit.bundle.spool import Spool
from envkit.bundle.streams import Progress, decompressed_reader, detect

__all__ = ["Verified", "VerifyingPass", "read_header_ids", "verify_bundle"]

CHUNK = 1 << 20
_JSON_LIMIT = 16 << 20  # header, manifest and the archive's own JSON are read into memory


@dataclass(frozen=True, slots=True)
class Verified:
    path: str
    compression: str
    size: int  # bytes of the file
    manifest: Manifest
    stack_files: dict[str, bytes]  # member name -> content
    archive: tuple[ArchiveImage, ...] = ()  # the entries of the docker save manifest.json
    images_tar: str | None = None  # the verified images as one tar (with a Spool)
    links: dict[str, str] | None = None  # link member (relative to images/) -> its target


def _damaged(path: str, at: str | None, exc: BaseException) -> BundleError:
    where = f"at member {at!r}" if at else "at its start"
    return BundleError(
        f"the bundle {path} is truncated or damaged ({where}: {exc}); nothing was loaded",
        code="bundle-truncated",
        hint="copy the bundle again (compare its sha256 with the one `envkit bundle save` "
        "printed) or save it again",
    )


_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, ValueError)


def _members(
    path: str, progress: Progress | None, limits: Limits
) -> Generator[tuple[tarfile.TarInfo, Any], None, None]:
    """(info, tar) of each member in order, translating decompression and tar errors."""
    last: str | None = None
    size = os.path.getsize(path)
    with decompressed_reader(path, progress) as (kind, reader):
        if kind == "unknown":
            raise BundleError(
                f"{path} is not an envkit bundle (not a gzip, zstd or tar file)",
                code="not-a-bundle",
                hint="give a file made by `envkit bundle save`",
            )
        limited = LimitedReader(reader, path, limits, size, kind)
        try:
            tar = tarfile.open(fileobj=limited, mode="r|", bufsize=CHUNK)  # type: ignore[call-overload]  # noqa: SIM115
        except _READ_ERRORS as exc:
            if kind == "none":
                raise BundleError(
                    f"{path} is not an envkit bundle (not a tar archive)", code="not-a-bundle"
                ) from exc
            raise _damaged(path, None, exc) from exc
        with tar:
            it = iter(tar)
            count = 0
            while True:
                try:
                    info = next(it)
                except StopIteration:
                    break
                except _READ_ERRORS as exc:
                    raise _damaged(path, last, exc) from exc
                count += 1
                if count > limits.max_members:
                    raise too_large(
                        path, "the most members", limits.max_members, "ENVKIT_BUNDLE_MAX_MEMBERS"
                    )
                last = info.name
                limited.announce(info.size)
                yield info, tar


def _data(tar: tarfile.TarFile, info: tarfile.TarInfo) -> Iterator[bytes]:
    """A member's bytes, read straight from the archive's stream (``extractfile`` adds a
    buffered copy that costs as much as the decompression); EOFError when it ends early.
    The next ``next()`` skips the padding."""
    stream = tar.fileobj
    assert stream is not None
    left = info.size
    while left > 0:
        chunk = stream.read(min(left, CHUNK))
        if not chunk:
            raise EOFError(f"member {info.name!r} ends {left} bytes early")
        left -= len(chunk)
        yield chunk


def _read_small(tar: tarfile.TarFile, info: tarfile.TarInfo, limit: int = _JSON_LIMIT) -> bytes:
    if info.size > limit:
        raise BundleError(f"the bundle's member {info.name!r} is too large", code="bundle-damaged")
    return b"".join(_data(tar, info))


def verify_bundle(
    path: str,
    progress: Progress | None = None,
    *,
    limits: Limits | None = None,
    spool: Spool | None = None,
) -> Verified:
    """Every check, reading the whole file once; raises BundleError naming the problem.
    With ``spool``, the images' tar is written into it on the way (see the module)."""
    pass_ = VerifyingPass(path, progress, limits)
    for chunk in pass_.images():
        if spool is not None:
            spool.write(chunk)
    verified = pass_.verified(spool.path if spool is not None else None)
    if spool is not None:
        for chunk in pass_.held():
            spool.write(chunk)
        spool.close()
    return verified


def read_header_ids(path: str, limits: Limits | None = None) -> list[str] | None:
    """The image ids a bundle's header announces, read from its first member only (None:
    an older bundle, or not a bundle, which the verifying pass then reports)."""
    if not os.path.isfile(path):
        return None
    members = _members(path, None, limits or Limits.from_env())
    try:
        info, tar = next(members)
        if info.name != HEADER or not info.isfile():
            return None
        header = parse_json(_read_small(tar, info, 1 << 16), HEADER, path)
    except (BundleError, StopIteration, *_READ_ERRORS):
        return None
    finally:
        members.close()
    ids = header.get("image_ids")
    return [str(i) for i in ids] if isinstance(ids, list) else None


class VerifyingPass:
    """One pass over a bundle. :meth:`images` yields the images' members, as the tar
    ``docker load`` reads, while it verifies them, except the small ones (docker's
    manifest.json, configs, legacy json: what makes the engine act), which :meth:`held`
    gives after :meth:`verified` has checked everything. Whoever streams the images to the
    engine sends :meth:`held` only once the bundle is verified, so a refused bundle leaves a
    stream the engine can only reject."""

    def __init__(self, path: str, progress: Progress | None, limits: Limits | None) -> None:
        if not os.path.isfile(path):
            raise BundleError(f"{path} does not exist or is not a file", code="bundle-not-found")
        self.path = path
        self.header: dict[str, Any] = {}
        self._scan = _Scan(path, limits or Limits.from_env(), self)
        self._progress = progress
        self._done = False

    def images(self) -> Iterator[bytes]:
        scan = self._scan
        try:
            for info, tar in _members(self.path, self._progress, scan.limits):
                scan.current = info.name
                yield from scan.member(info, tar)
        except _READ_ERRORS as exc:
            raise _damaged(self.path, scan.current, exc) from exc
        self._done = True

    def header_ids(self) -> list[str] | None:
        """The image ids the header announces (bundles of older envkits have none)."""
        ids = self.header.get("image_ids")
        return [str(i) for i in ids] if isinstance(ids, list) else None

    def verified(self, images_tar: str | None = None) -> Verified:
        """The result, once :meth:`images` ran to its end: BundleError on any problem."""
        assert self._done, "images() must run to its end first"
        scan, path = self._scan, self.path
        manifest = scan.manifest
        if manifest is None:
            if not scan.seen:
                raise BundleError(
                    f"{path} is not an envkit bundle (it is empty)", code="not-a-bundle"
                )
            raise _damaged(path, scan.seen[-1].name, EOFError(f"no {MANIFEST} at the end"))
        compare_members(manifest.members, scan.seen)
        if manifest.stack_file not in scan.stack_files:
            raise BundleError(
                f"the bundle's manifest names the stack file {manifest.stack_file!r}, which "
                "it does not contain",
                code="bundle-tampered",
            )
        ids = self.header_ids()
        if ids is not None and sorted(ids) != sorted(i.id for i in manifest.images):
            raise BundleError(
                "the bundle's header lists other images than its manifest; nothing was loaded",
                code="bundle-tampered",
                hint="get the bundle again from a trusted source",
            )
        archive = check_archive(manifest, scan.archive_files)
        with open(path, "rb") as f:
            compression = detect(f.read(512))
        return Verified(
            path,
            compression,
            os.path.getsize(path),
            manifest,
            scan.stack_files,
            tuple(archive),
            images_tar,
            scan.links,
        )

    def held(self) -> Iterator[bytes]:
        """The held-back members, then the end of the tar."""
        yield from self._scan.held
        yield b"\0" * (2 * tarfile.BLOCKSIZE)


_HOLD = 1 << 20  # image members smaller than this are held back until verified
_HELD_LIMIT = 64 << 20


class _Scan:
    """The state of one verifying pass."""

    def __init__(self, path: str, limits: Limits, owner: VerifyingPass) -> None:
        self.path = path
        self.limits = limits
        self.owner = owner
        self.current: str | None = None
        self.seen: list[MemberRecord] = []
        self.names: set[str] = set()
        self.stack_files: dict[str, bytes] = {}
        self.stack_bytes = 0
        self.archive_files: dict[str, bytes] = {}
        self.links: dict[str, str] = {}
        self.held: list[bytes] = []
        self.held_bytes = 0
        self.manifest: Manifest | None = None

    def member(self, info: tarfile.TarInfo, tar: tarfile.TarFile) -> Iterator[bytes]:
        if not self.seen:
            if info.name != HEADER or not info.isfile():
                raise BundleError(
                    f"{self.path} is not an envkit bundle (its first member is "
                    f"{info.name!r}, not {HEADER})",
                    code="not-a-bundle",
                    hint="give a file made by `envkit bundle save`",
                )
            raw = _read_small(tar, info, 1 << 16)
            header = parse_json(raw, HEADER, self.path)
            check_header(header)
            self.owner.header = header
            self.seen.append(MemberRecord(HEADER, "file", len(raw), _sha(raw)))
            self.names.add(HEADER)
            return
        if self.manifest is not None:
            raise BundleError(
                f"the bundle has a member after its manifest ({info.name!r}); nothing was loaded",
                code="bundle-tampered",
            )
        if info.name == MANIFEST:
            raw = _read_small(tar, info)
            self.manifest = Manifest.from_json(parse_json(raw, MANIFEST, self.path))
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
            self.stack_bytes += info.size
            if self.stack_bytes > self.limits.max_stack_bytes:
                raise too_large(
                    self.path,
                    "the limit for stack files",
                    self.limits.max_stack_bytes,
                    "ENVKIT_BUNDLE_MAX_STACK",
                )
            content = _read_small(tar, info, self.limits.max_stack_bytes)
            self.stack_files[record.name] = content
            digest = _sha(content)
        elif record.type == "file" and not record.name.startswith(IMAGES):
            raise BundleError(
                f"the bundle's member {record.name!r} is neither under stack/ nor images/",
                code="bundle-tampered",
            )
        elif record.name.startswith(IMAGES):
            hashed: list[str] = []
            yield from self._image_member(info, tar, record, hashed)
            digest = hashed[0] if hashed else ""
        self.seen.append(MemberRecord(record.name, record.type, record.size, digest, record.target))

    def _image_member(
        self, info: tarfile.TarInfo, tar: tarfile.TarFile, record: MemberRecord, out: list[str]
    ) -> Iterator[bytes]:
        """Hash an images/ member and yield it (renamed as docker load reads it), or hold it
        back when it is small or a link; keep docker's own JSON for the checks."""
        inner = record.name.removeprefix(IMAGES)
        header = _renamed(info, inner)
        if record.type == "symlink":
            target = posixpath.join(posixpath.dirname(inner), record.target)
            self.links[inner] = posixpath.normpath(target)
        elif record.type == "hardlink":
            self.links[inner] = record.target.removeprefix(IMAGES)
        if record.type == "dir":
            yield header
            return
        if record.type != "file":
            self._hold([header])
            return
        if info.size < _HOLD or inner in ARCHIVE_FILES:
            raw = _read_small(tar, info)
            if inner in ARCHIVE_FILES:
                self.archive_files[inner] = raw
            self._hold([header, raw, _padding(len(raw))])
            out.append(_sha(raw))
            return
        digest = hashlib.sha256()
        yield header
        for chunk in _data(tar, info):
            digest.update(chunk)
            yield chunk
        yield _padding(info.size)
        out.append(digest.hexdigest())

    def _hold(self, parts: list[bytes]) -> None:
        self.held_bytes += sum(len(p) for p in parts)
        if self.held_bytes > _HELD_LIMIT:
            raise BundleError(
                f"the bundle's images hold more than {_HELD_LIMIT:,} bytes of small members",
                code="bundle-too-large",
            )
        self.held.extend(parts)


def _renamed(info: tarfile.TarInfo, name: str) -> bytes:
    """The tar header of ``info`` under ``name`` (a hard link's target without images/)."""
    out = tarfile.TarInfo(name)
    for attr in ("size", "mtime", "mode", "type", "uid", "gid", "uname", "gname"):
        setattr(out, attr, getattr(info, attr))
    if info.issym():
        out.linkname = info.linkname
    elif info.islnk():
        out.linkname = info.linkname.removeprefix(IMAGES)
    return out.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _padding(size: int) -> bytes:
    return b"\0" * (-size % tarfile.BLOCKSIZE)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

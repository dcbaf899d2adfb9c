"""``envkit bundle save``: every image an environment needs, its stack file and env files,
and a manifest, in one compressed file, written under a temporary name and renamed at the
end (a failure — a full disk — never leaves a half-written file under the final name)."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any, cast

from envkit.bundle.format import (
    HEADER,
    IMAGES,
    MANIFEST,
    STACK,
    BundleError,
    ImageRecord,
    Manifest,
    MemberRecord,
    check_member,
    to_bytes,
)
from envkit.bundle.secretfiles import SecretMarkers, declared_secret_files
from envkit.bundle.streams import Progress, compressed_writer
from envkit.canonical import envkit_version
from envkit.engine.base import ImageStore
from envkit.model import MountType, ServiceSpec
from envkit.outputfile import check_output
from envkit.stackfile.pipeline import Resolved

__all__ = ["SaveResult", "default_name", "save_bundle"]

CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class SaveResult:
    path: str
    size: int
    sha256: str
    manifest: Manifest


def default_name(stack: str, environment: str, compression: str, today: datetime) -> str:
    ext = "tar.zst" if compression == "zstd" else "tar.gz"
    return f"{stack}-{environment}_{today:%Y%m%d}.envkit.{ext}"


def _tagged(ref: str) -> str:
    """docker save of ``busybox`` would save every tag of busybox: name the tag."""
    if "@" in ref or ref.startswith("sha256:"):
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else f"{ref}:latest"


class _Sink:
    """Where the tar bytes go (the compressor); counts them, so tarfile can ask tell()."""

    def __init__(self, writer: IO[bytes]) -> None:
        self._writer = writer
        self._pos = 0

    def write(self, data: bytes) -> int:
        self._writer.write(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos


class _ChunkReader:
    """A file-like reader over an iterator of byte chunks (the engine's save stream)."""

    def __init__(self, chunks: Iterable[bytes], on_read: Callable[[int], None] | None) -> None:
        self._chunks = iter(chunks)
        self._buf = b""
        self._pos = 0
        self._on_read = on_read

    def read(self, n: int = -1) -> bytes:
        out: list[bytes] = []
        want = n if n >= 0 else 1 << 62
        while want > 0:
            if self._pos >= len(self._buf):
                try:
                    self._buf, self._pos = next(self._chunks), 0
                except StopIteration:
                    break
                if self._on_read is not None:
                    self._on_read(len(self._buf))
            piece = self._buf[self._pos : self._pos + want]
            self._pos += len(piece)
            want -= len(piece)
            out.append(piece)
        return b"".join(out)


class _Hashing:
    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.digest.update(data)
        return data


@dataclass(frozen=True, slots=True)
class StackFiles:
    """What ``save`` puts under stack/, and what it says about what it left out."""

    files: list[tuple[str, bytes]]  # member name, content
    omitted: list[str]  # referred to by the stack, not in the bundle
    secrets: list[str]  # secret files left out or blanked, each with why


def _stack_files(resolved: Resolved, include_secrets: bool) -> StackFiles:
    """The stack file, its env files (values blanked unless ``include_secrets``) and the
    files of read-only bind-mount sources under its folder, leaving out secret files
    (:mod:`envkit.bundle.secretfiles`) unless ``include_secrets``; what is left out is
    listed, each with why."""
    rendered = resolved.rendered
    root = Path(rendered.directory).resolve()
    stack_file = Path(rendered.source)
    stack_file = (stack_file if stack_file.is_absolute() else Path.cwd() / stack_file).resolve()
    markers = declared_secret_files(rendered.document)
    files: dict[str, bytes] = {}
    omitted: list[str] = []
    secrets: list[str] = []

    def rel(path: Path) -> str | None:
        try:
            return path.resolve().relative_to(root).as_posix()
        except ValueError:
            return None

    name = rel(stack_file) or stack_file.name
    files[STACK + name] = stack_file.read_bytes()
    # The other files the stack was read from: a Compose override, include:, extends.
    for other in rendered.document.sources if rendered.document is not None else ():
        member = rel(Path(other))
        if member is None:
            omitted.append(f"{other} (a stack file outside the stack's folder)")
        elif STACK + member not in files:
            files[STACK + member] = Path(other).read_bytes()

    env_files: list[str] = []
    data = rendered.document.data if rendered.document is not None else {}
    env_def = (data.get("environments") or {}).get(rendered.environment) or {}
    services = rendered.tree.get("services") or {}
    for spec in (env_def.get("env_file"), *((s or {}).get("env_file") for s in services.values())):
        for entry in spec if isinstance(spec, list) else [spec]:
            path = entry.get("path") if isinstance(entry, dict) else entry
            if isinstance(path, str) and path:
                env_files.append(path)
    for entry in env_files:
        path = root / entry
        member = rel(path)
        if member is None:
            omitted.append(f"{entry} (env file outside the stack's folder)")
        elif path.is_file() and STACK + member not in files:
            if include_secrets:
                files[STACK + member] = path.read_bytes()
            else:
                files[STACK + member] = _blank(path)
                secrets.append(f"{member}: values blanked (an env file)")

    for svc in resolved.desired.services:
        for mount in svc.mounts:
            if mount.type is not MountType.BIND:
                continue
            source = Path(mount.source)
            member = rel(source)
            if member is None or not mount.read_only:
                why = "outside the stack's folder" if member is None else "a read-write bind mount"
                omitted.append(f"{mount.source} (services.{svc.name}: {why})")
                continue
            found = [source] if source.is_file() else sorted(source.rglob("*"))
            for path in found:
                _bind_file(path, root, svc.name, markers, include_secrets, files, omitted, secrets)
    return StackFiles(list(files.items()), omitted, secrets)


def _bind_file(
    path: Path,
    root: Path,
    service: str,
    markers: SecretMarkers,
    include_secrets: bool,
    files: dict[str, bytes],
    omitted: list[str],
    secrets: list[str],
) -> None:
    """One entry of a read-only bind source: a regular file is included (unless it is a
    secret), a symlink or a special file is listed as left out."""
    shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
    if path.is_symlink():
        target = os.readlink(path)
        omitted.append(
            f"{shown} (services.{service}: a symbolic link to {target!r} in a read-only bind "
            "mount; bundles carry no links, create it again after loading)"
        )
        return
    if path.is_dir():
        return
    if not path.is_file():
        omitted.append(f"{shown} (services.{service}: not a regular file)")
        return
    try:
        member = path.resolve().relative_to(root).as_posix()
    except ValueError:
        omitted.append(f"{shown} (services.{service}: outside the stack's folder)")
        return
    if STACK + member in files:
        return
    reason = markers.reason(member)
    if reason is not None and not include_secrets:
        secrets.append(f"{member}: left out, {reason} (services.{service})")
        return
    files[STACK + member] = path.read_bytes()


def _blank(path: Path) -> bytes:
    """An env file with every value left out (names kept, so the user sees what to fill)."""
    from dotenv import dotenv_values

    names = list(dotenv_values(path, interpolate=False, encoding="utf-8"))
    lines = [
        "# values left out by `envkit bundle save` (use --include-secrets to keep them);",
        "# fill them in before `envkit up`",
        *(f"{n}=" for n in names),
    ]
    return ("\n".join(lines) + "\n").encode()


def _add_bytes(tar: tarfile.TarFile, name: str, content: bytes, mtime: float) -> MemberRecord:
    info = tarfile.TarInfo(name)
    info.size = len(content)
    info.mode = 0o644
    info.mtime = int(mtime)
    tar.addfile(info, io.BytesIO(content))
    return MemberRecord(name, "file", len(content), hashlib.sha256(content).hexdigest())


def save_bundle(
    resolved: Resolved,
    engine: ImageStore,
    output: str | None,
    *,
    compression: str = "gzip",
    include_secrets: bool = False,
    on_output: Callable[[str, str], None] | None = None,
    progress: Callable[[str, int], Progress | None] | None = None,
    now: datetime | None = None,
) -> SaveResult:
    desired = resolved.desired
    now = now or datetime.now(UTC)
    out_path = check_output(
        Path(output or default_name(desired.stack, desired.environment, compression, now))
    )

    # Every image, obtained as `up` would (pull, build), then described.
    by_ref: dict[str, list[ServiceSpec]] = {}
    for svc in desired.services:
        by_ref.setdefault(_tagged(svc.image), []).append(svc)
    images: list[ImageRecord] = []
    for ref, specs in by_ref.items():
        spec = specs[0]
        engine.ensure_image(
            spec,
            on_output=partial(on_output, ref) if on_output else None,
        )
        info = engine.image_info(spec.image)
        if info is None:
            raise BundleError(f"image {spec.image} of service {spec.name} is not on the engine")
        images.append(
            ImageRecord(info.id, (ref,), tuple(info.tags), info.size, tuple(s.name for s in specs))
        )
    merged: dict[str, ImageRecord] = {}
    for img in images:  # two refs of one image: one record
        if img.id in merged:
            old = merged[img.id]
            img = ImageRecord(
                img.id, old.refs + img.refs, img.tags, img.size, old.services + img.services
            )
        merged[img.id] = img
    images = list(merged.values())

    stack = _stack_files(resolved, include_secrets)
    stack_member = stack.files[0][0]
    manifest = Manifest(
        envkit_version=envkit_version(),
        created=now.isoformat().replace("+00:00", "Z"),
        stack=desired.stack,
        environment=desired.environment,
        stack_file=stack_member,
        secrets="included" if include_secrets else "omitted",
        compression=compression,
        images=tuple(images),
        omitted=tuple(stack.omitted),
        secret_files=tuple(stack.secrets),
    )

    directory = out_path.parent if str(out_path.parent) else Path(".")
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{out_path.name}.", suffix=".part")
    umask = os.umask(0o022)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes it 0600; a bundle is an ordinary file
    total = sum(i.size for i in images)
    bar = progress("saving", total) if progress else None
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "w+b") as target:
            with compressed_writer(target, compression) as writer:
                members = _write(
                    writer, manifest, stack.files, engine, [r for i in images for r in i.refs], bar
                )
            target.flush()
            os.fsync(target.fileno())
            target.seek(0)  # the sha256 of what was written, read back through the same fd
            while chunk := target.read(CHUNK):
                digest.update(chunk)
            size = os.fstat(target.fileno()).st_size
        check_output(out_path)  # again: saving took a while, the path may have changed
        os.replace(tmp_name, out_path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(exc, OSError):
            reason = exc.strerror or str(exc)
            hint = (
                "free some space, or write the bundle elsewhere with -o"
                if exc.errno == errno.ENOSPC
                else None
            )
            raise BundleError(
                f"cannot write the bundle {out_path}: {reason}; nothing was left behind",
                code="bundle-write-failed",
                hint=hint,
            ) from exc
        raise
    finally:
        if bar is not None:
            bar.finish()
    final = Manifest(**{**_fields(manifest), "members": tuple(members)})
    return SaveResult(str(out_path), size, digest.hexdigest(), final)


def _fields(m: Manifest) -> dict[str, Any]:
    return {name: getattr(m, name) for name in m.__dataclass_fields__}


def _write(
    writer: IO[bytes],
    manifest: Manifest,
    stack_files: list[tuple[str, bytes]],
    engine: ImageStore,
    refs: list[str],
    bar: Progress | None,
) -> list[MemberRecord]:
    sink = _Sink(writer)
    now = time.time()
    members: list[MemberRecord] = []
    with tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
        tar.copybufsize = CHUNK
        members.append(_add_bytes(tar, HEADER, to_bytes(manifest.header_json()), now))
        for name, content in stack_files:
            members.append(_add_bytes(tar, name, content, now))
        source = _ChunkReader(engine.save_images(refs), bar.add if bar else None)
        with tarfile.open(fileobj=cast(Any, source), mode="r|") as saved:
            for info in saved:
                info.name = IMAGES + info.name.removeprefix("./")
                if info.islnk():  # hard links name their target from the archive root
                    info.linkname = IMAGES + info.linkname.removeprefix("./")
                record = check_member(info)
                if info.isfile():
                    data = saved.extractfile(info)
                    assert data is not None
                    hashing = _Hashing(data)
                    tar.addfile(info, cast(Any, hashing))
                    record = MemberRecord(
                        record.name, "file", info.size, hashing.digest.hexdigest()
                    )
                else:
                    tar.addfile(info)
                members.append(record)
        final = Manifest(**{**_fields(manifest), "members": tuple(members)})
        content = to_bytes(final.to_json())
        _add_bytes(tar, MANIFEST, content, now)
    return members

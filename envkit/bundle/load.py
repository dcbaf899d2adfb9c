"""Using a verified bundle: write its stack files, load its images, push them.

``bundle load`` verifies everything and writes the stack files first, and only then loads
images, so a refused bundle or a failed extract leaves the engine as it was. The images go
to the engine from the verified private copy (:mod:`envkit.bundle.spool`): as it is when the
engine has none of them; without the images it already has (same id), which are only tagged;
not at all when it has every one.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import stat
import tarfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from envkit.bundle.dockerarchive import ArchiveImage
from envkit.bundle.format import STACK, BundleError
from envkit.bundle.limits import Limits
from envkit.bundle.read import Verified, VerifyingPass, read_header_ids, verify_bundle
from envkit.bundle.spool import spooled
from envkit.bundle.streams import Progress
from envkit.engine.base import ImageStore
from envkit.errors import EnvkitError

__all__ = [
    "extract_stack",
    "load_bundle",
    "load_onto_engines",
    "open_bundle",
    "push_bundle",
    "verify_and_load",
]

CHUNK = 1 << 20


@contextlib.contextmanager
def open_bundle(
    path: str, progress: Progress | None = None, *, limits: Limits | None = None
) -> Iterator[Verified]:
    """Verify ``path``, keeping its images in a private temporary file for
    :func:`load_bundle` while the block runs (removed however it ends)."""
    with spooled() as spool:
        yield verify_bundle(path, progress, limits=limits, spool=spool)


def _file_chunks(path: str, progress: Progress | None) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            if progress is not None:
                progress.add(len(chunk))
            yield chunk


def _needed(archive: list[ArchiveImage], links: dict[str, str]) -> set[str]:
    """The members these images use: configs, layers, and what their links point to."""
    out: set[str] = set()
    for path in (x for a in archive for x in (a.config, *a.layers)):
        path = posixpath.normpath(path.removeprefix("./"))
        while path not in out:
            out.add(path)
            if path not in links:
                break
            path = links[path]
    return out


def _partial_stream(
    verified: Verified, load: list[ArchiveImage], skip: list[ArchiveImage]
) -> Iterator[bytes]:
    """The verified images' tar without the members only the skipped images use, and with
    a manifest.json listing only the images to load."""
    assert verified.images_tar is not None
    links = verified.links or {}
    drop = (_needed(skip, links) - _needed(load, links)) | {"repositories", "index.json"}
    entries = json.loads(_archive_file(verified.images_tar, "manifest.json"))
    keep_configs = {posixpath.normpath(a.config.removeprefix("./")) for a in load}
    manifest = json.dumps(
        [e for e in entries if posixpath.normpath(e["Config"].removeprefix("./")) in keep_configs]
    ).encode()
    with tarfile.open(verified.images_tar, mode="r|") as tar:
        for info in tar:
            name = posixpath.normpath(info.name)
            if name in drop:
                continue
            data = tar.extractfile(info) if info.isfile() else None
            if name == "manifest.json":
                info.size = len(manifest)
            yield info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
            if name == "manifest.json":
                yield manifest
            elif data is not None:
                while chunk := data.read(CHUNK):
                    yield chunk
            if info.isfile() and info.size % tarfile.BLOCKSIZE:
                yield b"\0" * (tarfile.BLOCKSIZE - info.size % tarfile.BLOCKSIZE)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def _archive_file(images_tar: str, name: str) -> bytes:
    with tarfile.open(images_tar, mode="r|") as tar:
        for info in tar:
            if posixpath.normpath(info.name) == name and info.isfile():
                data = tar.extractfile(info)
                return data.read() if data is not None else b""
    raise BundleError(f"the verified images lack {name}", code="bundle-tampered")


def load_bundle(
    verified: Verified,
    engine: ImageStore,
    *,
    on_output: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> list[str]:
    """Load a verified bundle's images (from :func:`open_bundle`) that the engine lacks, tag
    the ones it has; returns the image refs now on the engine."""
    images = verified.manifest.images
    have = {im.id for im in images if _has(engine, im.id)}
    if len(have) < len(images):
        if verified.images_tar is None:
            raise ValueError("load_bundle needs a bundle verified by open_bundle")
        load = [a for a in verified.archive if a.id not in have]
        skip = [a for a in verified.archive if a.id in have]
        stream = (
            _file_chunks(verified.images_tar, progress)
            if not skip
            else _partial_stream(verified, load, skip)
        )
        engine.load_images(stream, on_output=on_output)
    return _finish(verified, engine, have, on_output)


def load_onto_engines(
    verified: Verified,
    engines: Mapping[str, ImageStore],
    *,
    on_output: Callable[[str, str], None] | None = None,
) -> dict[str, list[str]]:
    """Load a verified bundle (from :func:`open_bundle`, verified once) onto several engines
    at the same time, e.g. every node of a Swarm cluster without a registry; ``engines``:
    name -> engine. Each engine gets the images it lacks and is checked to hold every image
    under its id, so every node runs the same bits. Returns name -> image refs. Every
    engine is tried; if any failed, a :class:`BundleError` names each that failed."""
    from concurrent.futures import ThreadPoolExecutor

    def one(name: str) -> list[str]:
        out = None if on_output is None else (lambda line: on_output(name, line))
        return load_bundle(verified, engines[name], on_output=out)

    with ThreadPoolExecutor(max_workers=min(8, len(engines)) or 1) as pool:
        futures = {name: pool.submit(one, name) for name in engines}
    done: dict[str, list[str]] = {}
    failed: list[str] = []
    for name, future in futures.items():
        exc = future.exception()
        if exc is None:
            done[name] = future.result()
        elif isinstance(exc, EnvkitError):
            failed.append(f"{name}: {exc.message}")
        else:
            raise exc
    if failed:
        loaded = f"; loaded onto {', '.join(done)}" if done else ""
        raise BundleError(
            f"the bundle's images could not be loaded onto {len(failed)} of {len(engines)} "
            f"engines{loaded}",
            detail="\n".join(f"  {line}" for line in failed),
            hint="fix those engines and run the same command again (an engine that has the "
            "images already loads nothing)",
            code="load-failed",
        )
    return done


def verify_and_load(
    path: str,
    engine: ImageStore,
    *,
    before_load: Callable[[Verified], object] | None = None,
    on_output: Callable[[str], None] | None = None,
    progress: Progress | None = None,
    limits: Limits | None = None,
) -> tuple[Verified, list[str]]:
    """Verify the bundle at ``path``, call ``before_load`` (writing its stack files), then
    make its images present; returns (verified, image refs now on the engine).

    The header names the images. When the engine has none of them (or the bundle is too
    old to say), the one verifying pass streams the images to ``docker load`` as it goes,
    so decompressing, hashing and the engine's unpacking overlap, as in ``gunzip | docker
    load``. The members that make the engine act (docker's manifest.json, the images'
    configs) are held back and sent only after every check passed and ``before_load``
    returned; if anything fails the stream is cut short, and the engine, which unpacks the
    whole stream before it loads anything, loads nothing. When the engine has some of the
    images, the others are loaded from a verified private copy (:func:`open_bundle`); when
    it has all, nothing is loaded."""
    pass_ = VerifyingPass(path, progress, limits)
    ids = read_header_ids(path, limits)
    have = {i for i in ids or () if _has(engine, i)}
    if ids is not None and have and len(have) == len(set(ids)):
        for _ in pass_.images():
            pass
        verified = pass_.verified()
        if before_load is not None:
            before_load(verified)
        return verified, _finish(verified, engine, have, on_output)
    if have:
        with open_bundle(path, progress, limits=limits) as verified:
            if before_load is not None:
                before_load(verified)
            return verified, load_bundle(verified, engine, on_output=on_output)
    done: list[Verified] = []

    def stream() -> Iterator[bytes]:
        yield from pass_.images()
        verified = pass_.verified()
        if before_load is not None:
            before_load(verified)
        done.append(verified)
        yield from pass_.held()

    engine.load_images(stream(), on_output=on_output)
    if not done:
        raise BundleError(f"the engine stopped reading {path} before its end", code="load-failed")
    return done[0], _finish(done[0], engine, set(), on_output)


def _finish(
    verified: Verified,
    engine: ImageStore,
    have: set[str],
    on_output: Callable[[str], None] | None,
) -> list[str]:
    """Every image on the engine, under every reference the manifest gives it."""
    present: list[str] = []
    for image in verified.manifest.images:
        if engine.image_info(image.id) is None:
            raise BundleError(
                f"the engine did not load image {image.id} ({', '.join(image.refs)})",
                code="load-failed",
            )
        for ref in image.refs:
            info = engine.image_info(ref)
            if info is None or info.id != image.id:
                engine.tag_image(image.id, ref)
            present.append(ref)
        if image.id in have and on_output is not None:
            on_output(f"{', '.join(image.refs)}: already on the engine ({image.id[:19]})")
    return present


def _has(engine: ImageStore, image_id: str) -> bool:
    info = engine.image_info(image_id)
    return info is not None and info.id == image_id


def extract_stack(verified: Verified, directory: str, *, force: bool = False) -> list[str]:
    """Write the bundle's stack files under ``directory``; never outside it, never over a
    different existing file unless ``force``, never over anything but a regular file.
    Every file is checked before the first is written. Returns the paths written."""
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
        with contextlib.suppress(FileNotFoundError):
            if not stat.S_ISREG(os.stat(target).st_mode):
                raise BundleError(
                    f"{target} exists and is not a regular file; the bundle's {name} is not "
                    "written over it",
                    code="file-exists",
                    hint="extract into another folder",
                )
            if not force and target.read_bytes() != content:
                raise BundleError(
                    f"{target} exists and differs from the bundle's {name}",
                    code="file-exists",
                    hint="extract into another folder, or pass --force to overwrite",
                )
        plans.append((target, content))
    written = []
    for target, content in plans:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        except OSError as exc:
            raise BundleError(
                f"cannot write {target}: {exc.strerror or exc}",
                code="extract-failed",
                hint="extract into a folder you can write to",
            ) from exc
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
    """Load the bundle's images the engine lacks, tag each under ``registry``
    (``envkit.stackfile.imageref.to_registry``: the names ``environments.E.registry`` makes the stack
    use) and push them. Returns the pushed references."""
    from envkit.stackfile.imageref import to_registry

    load_bundle(verified, engine, on_output=on_output, progress=progress)
    pushed = []
    for image in verified.manifest.images:
        for ref in image.refs:
            target = to_registry(ref, registry)
            engine.tag_image(image.id, target)
            engine.push_image(target, on_output=on_output)
            pushed.append(target)
    return pushed

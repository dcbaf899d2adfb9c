"""Content hashes of build contexts, so a changed context changes the spec hash.

Called from :func:`envkit.stackfile.pipeline.resolve` (the imperative shell: it reads files) to fill
:attr:`envkit.model.BuildSpec.context_hash`; the spec hash covers it, so ``plan`` shows a
recreate when a file of the context changed and apply rebuilds.

Which files count is decided by docker's own ``.dockerignore`` matcher
(``docker.utils.build.exclude_paths``, in :func:`build_context_files`: a pure pattern
matcher, the one piece of the docker SDK the stack-file side uses, imported only when a
stack has a local build): the hash covers exactly the files the
SDK sends to the engine when it builds — not a gitignore look-alike, whose rules differ
(``foo`` in a ``.dockerignore`` matches only at the root). Contents, the executable bit,
symlink targets and folder names count; timestamps and owners do not, so ``touch`` does not
rebuild. The Dockerfile always counts, also when it lies outside the context; a
``dockerfile_inline`` counts by its text.

"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from collections.abc import Callable

from envkit._lazy import defer_import
from envkit.errors import Diagnostic, DocPath, Origin, StackError
from envkit.model import BuildSpec, DesiredState

__all__ = ["build_context_files", "context_hash", "with_context_hashes"]

_CHUNK = 1 << 20


class ContextProblem(Exception):
    """A build context that cannot be hashed: (code, message, hint)."""

    def __init__(self, code: str, message: str, hint: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint


def is_remote(context: str) -> bool:
    return "://" in context or context.startswith(("git@", "github.com/"))


def _dockerfile_path(build: BuildSpec) -> str:
    return (
        build.dockerfile
        if os.path.isabs(build.dockerfile)
        else os.path.join(build.context, build.dockerfile)
    )


def build_context_files(context: str, dockerfile: str) -> list[str]:
    """The files and folders (relative, sorted) of a build context that the SDK sends to the
    engine: docker's own ``.dockerignore`` matcher, read the way ``APIClient.build`` reads
    it, so ``envkit.stackfile.buildcontext`` hashes exactly what a build sees."""
    defer_import("paramiko")  # the SDK's ssh transport, not needed to read a context
    from docker.utils.build import exclude_paths

    patterns: list[str] = []
    ignore = os.path.join(context, ".dockerignore")
    if os.path.exists(ignore):
        with open(ignore, encoding="utf-8") as f:
            lines = [line.strip() for line in f.read().splitlines()]
        patterns = [line for line in lines if line and not line.startswith("#")]
    inside = dockerfile
    if os.path.isabs(dockerfile):
        inside = os.path.relpath(dockerfile, context)
    return sorted(exclude_paths(context, patterns, dockerfile=inside))


# -- helpers ----------------------------------------------------------------------------


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def context_hash(build: BuildSpec) -> str:
    """``sha256:...`` of the context's files as a build sees them; raises ContextProblem."""

    root = build.context
    if not os.path.isdir(root):
        what = "is not a folder" if os.path.exists(root) else "does not exist"
        raise ContextProblem(
            "missing-build-context",
            f"the build context {root} {what}",
            "create it, or fix build.context (relative to the stack file)",
        )
    dockerfile = _dockerfile_path(build)
    if build.dockerfile_inline is None and not os.path.isfile(dockerfile):
        raise ContextProblem(
            "missing-dockerfile",
            f"the Dockerfile {dockerfile} does not exist",
            "create it, or fix build.dockerfile (relative to the build context)",
        )
    digest = hashlib.sha256(b"envkit-build-context-v1\0")
    try:
        for rel in build_context_files(root, build.dockerfile):
            path = os.path.join(root, rel)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                entry = f"L\0{rel}\0{os.readlink(path)}"
            elif stat.S_ISDIR(st.st_mode):
                entry = f"D\0{rel}"
            elif stat.S_ISREG(st.st_mode):
                executable = "x" if st.st_mode & 0o111 else "-"
                entry = f"F\0{rel}\0{executable}\0{_file_digest(path)}"
            else:
                continue  # sockets, fifos: never part of a build context
            digest.update(entry.encode("utf-8", "surrogateescape") + b"\n")
        if build.dockerfile_inline is not None:  # the text is in the spec; hashed anyway
            inline = hashlib.sha256(build.dockerfile_inline.encode("utf-8", "surrogateescape"))
            digest.update(b"Dockerfile-inline\0" + inline.hexdigest().encode())
        else:
            digest.update(b"Dockerfile\0" + _file_digest(dockerfile).encode())
    except OSError as exc:
        raise ContextProblem(
            "unreadable-build-context",
            f"cannot read the build context {root}: {exc.strerror or exc} ({exc.filename or root})",
            "make its files readable, or exclude them in .dockerignore",
        ) from exc
    return "sha256:" + digest.hexdigest()


def with_context_hashes(
    desired: DesiredState, locate: Callable[[DocPath], Origin | None]
) -> DesiredState:
    """``desired`` with every local build context hashed; StackError (located with
    ``locate(path)``) for a context or Dockerfile that does not exist or cannot be read.
    Remote contexts (git, URLs) are left unhashed: the engine fetches them."""
    problems: list[Diagnostic] = []
    services = []
    cache: dict[tuple[str, str], str] = {}
    for svc in desired.services:
        build = svc.build
        if build is None or is_remote(build.context):
            services.append(svc)
            continue
        key = (build.context, build.dockerfile)
        try:
            if key not in cache:
                cache[key] = context_hash(build)
        except ContextProblem as problem:
            path: DocPath = ("services", svc.name, "build")
            origin = locate((*path, "context")) or locate(path) or svc.origin
            problems.append(Diagnostic(problem.code, problem.message, path, origin, problem.hint))
            services.append(svc)
            continue
        new_build = dataclasses.replace(build, context_hash=cache[key])
        services.append(dataclasses.replace(svc, build=new_build))
    if problems:
        raise StackError(problems)
    return dataclasses.replace(desired, services=tuple(services))

"""Image references rewritten to a registry, and build-context hashes with .dockerignore."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envkit.engine.docker_images import build_fingerprint
from envkit.errors import StackError
from envkit.model import BuildSpec, DesiredState, ServiceSpec
from envkit.stackfile.buildcontext import (
    ContextProblem,
    context_hash,
    with_context_hashes,
)
from envkit.stackfile.imageref import is_registry, registry_of, to_registry, with_registry


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("busybox", "reg:5000/busybox:latest"),
        ("busybox:1.36", "reg:5000/busybox:1.36"),
        ("docker.io/library/mysql:5.7", "reg:5000/mysql:5.7"),
        ("library/mysql", "reg:5000/mysql:latest"),
        ("envkit/mariadb:latest", "reg:5000/envkit/mariadb:latest"),
        ("quay.io/org/app:1", "reg:5000/org/app:1"),
        ("localhost/app", "reg:5000/app:latest"),
        ("127.0.0.1:5000/app:2", "reg:5000/app:2"),
        ("app@sha256:abc", "reg:5000/app@sha256:abc"),
    ],
)
def test_to_registry(ref: str, expected: str) -> None:
    assert to_registry(ref, "reg:5000") == expected


def test_registry_of_and_pattern() -> None:
    assert registry_of("busybox") == "docker.io (Docker Hub)"
    assert registry_of("127.0.0.1:5000/a") == "127.0.0.1:5000"
    assert is_registry("127.0.0.1:5000")
    assert is_registry("registry.internal/mirror")
    assert not is_registry("http://127.0.0.1:5000")
    assert not is_registry("a b")


def test_with_registry_leaves_built_images_alone() -> None:
    desired = DesiredState(
        "s",
        "e",
        None,
        (
            ServiceSpec("db", "mysql:5.7"),
            ServiceSpec("app", "s-e-app", build=BuildSpec("/ctx")),
        ),
    )
    out = with_registry(desired, "10.0.0.5:5000")
    assert [s.image for s in out.services] == ["10.0.0.5:5000/mysql:5.7", "s-e-app"]
    assert with_registry(desired, None) is desired


def _context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "Dockerfile").write_text("FROM scratch\nCOPY . /\n")
    (ctx / "src" / "app.py").write_text("print(1)\n")
    (ctx / "notes.log").write_text("log\n")
    (ctx / "src" / "deep.log").write_text("log\n")
    (ctx / ".dockerignore").write_text("# comment\n*.log\n")
    return ctx


def test_context_hash_follows_content_and_dockerignore(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    build = BuildSpec(str(ctx))
    first = context_hash(build)
    assert first.startswith("sha256:")
    # ignored at the root ('*.log' matches only there, as in docker): no change
    (ctx / "notes.log").write_text("changed\n")
    os.utime(ctx / "src" / "app.py", (1, 1))  # timestamps do not count
    assert context_hash(build) == first
    # not ignored: a .log below the root (docker's rules, not gitignore's)
    (ctx / "src" / "deep.log").write_text("changed\n")
    second = context_hash(build)
    assert second != first
    (ctx / "src" / "app.py").write_text("print(2)\n")
    third = context_hash(build)
    assert third != second
    (ctx / "src" / "app.py").chmod(0o755)  # the executable bit counts
    assert context_hash(build) != third
    (ctx / "Dockerfile").write_text("FROM scratch\n")  # the Dockerfile always counts
    assert context_hash(build) not in (first, second, third)


def test_dockerfile_outside_the_context_counts(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    outside = tmp_path / "other.Dockerfile"
    outside.write_text("FROM scratch\n")
    build = BuildSpec(str(ctx), dockerfile=str(outside))
    first = context_hash(build)
    outside.write_text("FROM scratch\nCOPY . /\n")
    assert context_hash(build) != first


def test_missing_context_and_dockerfile(tmp_path: Path) -> None:
    with pytest.raises(ContextProblem) as missing:
        context_hash(BuildSpec(str(tmp_path / "nope")))
    assert missing.value.code == "missing-build-context"
    assert "does not exist" in missing.value.message
    with pytest.raises(ContextProblem) as no_dockerfile:
        context_hash(BuildSpec(str(tmp_path)))
    assert no_dockerfile.value.code == "missing-dockerfile"


def test_with_context_hashes_fills_and_locates(tmp_path: Path) -> None:
    ctx = _context(tmp_path)
    good = ServiceSpec("app", "app", build=BuildSpec(str(ctx)))
    desired = DesiredState("s", "e", None, (good,))
    filled = with_context_hashes(desired, lambda path: None)
    build = filled.services[0].build
    assert build is not None and build.context_hash == context_hash(BuildSpec(str(ctx)))
    bad = ServiceSpec("web", "web", build=BuildSpec(str(tmp_path / "missing")))
    with pytest.raises(StackError) as err:
        with_context_hashes(DesiredState("s", "e", None, (good, bad)), lambda path: None)
    diag = err.value.diagnostics[0]
    assert diag.code == "missing-build-context"
    assert diag.path == ("services", "web", "build")


def test_build_fingerprint_covers_args_and_target() -> None:
    base = BuildSpec("/c", context_hash="sha256:1")
    assert build_fingerprint(base) == build_fingerprint(BuildSpec("/c", context_hash="sha256:1"))
    assert build_fingerprint(base) != build_fingerprint(
        BuildSpec("/c", context_hash="sha256:1", args=(("A", "1"),))
    )
    assert build_fingerprint(base) != build_fingerprint(
        BuildSpec("/c", context_hash="sha256:1", target="t")
    )
    assert build_fingerprint(base) != build_fingerprint(BuildSpec("/c", context_hash="sha256:2"))

"""Bundles on a real engine: save -> remove the image -> load -> up with no registry; a
tampered bundle loads nothing; push into a private registry on 127.0.0.1, then an up that
pulls from it (environments.E.registry)."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import stat
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from envkit.model import LABEL

from .conftest import IMAGE
from .images_support import envkit, local_registry


@pytest.fixture
def app(docker_client: Any, tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """(stack name, an image unique to this test, the stack file)."""
    name = f"t{uuid.uuid4().hex[:8]}"
    ref = f"envkit-test-bundle/{name}:1"
    docker_client.images.build(
        fileobj=io.BytesIO(f"FROM {IMAGE}\nLABEL test={name}\n".encode()), tag=ref, rm=True
    )
    path = tmp_path / "envkit.yaml"
    path.write_text(
        f"stack: {name}\nenvironments:\n  e: {{}}\n"
        f"services:\n  app:\n    image: {ref}\n    command: [sleep, '3600']\n"
        "    init: true\n    stop_grace_period: 1s\n"
    )
    yield name, ref, path
    selector = {"label": f"{LABEL.STACK}={name}"}
    for c in docker_client.containers.list(all=True, filters=selector):
        c.remove(force=True, v=True)
    for n in docker_client.networks.list(filters=selector):
        n.remove()
    for image in docker_client.images.list():
        for tag in image.tags:
            if name in tag:
                with contextlib.suppress(docker.errors.APIError):
                    docker_client.images.remove(tag, force=True)


def _gone(client: Any, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return True
    return False


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_save_remove_load_up(
    app: tuple[str, str, Path], tmp_path: Path, docker_client: Any, compression: str
) -> None:
    name, ref, path = app
    out = tmp_path / "b.envkit.tar"
    args = ["--zstd"] if compression == "zstd" else []
    saved = envkit("-f", str(path), "bundle", "save", "e", "-o", str(out), *args)
    assert saved.code == 0, saved.err
    assert saved.out.startswith(f"{out}  sha256:")
    image_id = docker_client.images.get(ref).id
    docker_client.images.remove(ref, force=True)
    assert _gone(docker_client, image_id)

    shown = envkit("bundle", "inspect", str(out))
    assert shown.code == 0, shown.err
    assert f"stack       {name}, environment e" in shown.out
    assert ref in shown.out and compression in shown.out

    loaded = envkit("bundle", "load", str(out), "--extract", str(tmp_path / "inside"))
    assert loaded.code == 0, loaded.err
    assert loaded.out.strip() == ref
    assert docker_client.images.get(ref).id == image_id
    inside = tmp_path / "inside" / "envkit.yaml"
    up = envkit("-f", str(inside), "up", "e")
    assert up.code == 0, up.err
    assert "will be pulled" not in up.err


def test_tampered_bundle_loads_nothing(
    app: tuple[str, str, Path], tmp_path: Path, docker_client: Any
) -> None:
    _name, ref, path = app
    out = tmp_path / "b.tar.gz"
    assert envkit("-f", str(path), "bundle", "save", "e", "-o", str(out)).code == 0
    image_id = docker_client.images.get(ref).id
    docker_client.images.remove(ref, force=True)
    # one byte of a layer changed, the archive otherwise intact (re-compressed)
    with tarfile.open(out, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar]  # type: ignore[union-attr]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if info.name.endswith("layer.tar") and info.isfile() and data:
                data = data[:-1] + bytes([data[-1] ^ 1])
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(gzip.compress(buf.getvalue(), 1))
    result = envkit("bundle", "load", str(bad))
    assert result.code == 1
    assert "error[bundle-tampered]" in result.err and "layer.tar" in result.err
    assert "nothing was loaded" in result.err
    assert _gone(docker_client, image_id)


def test_push_then_up_pulls_from_the_registry(
    app: tuple[str, str, Path], tmp_path: Path, docker_client: Any
) -> None:
    name, ref, path = app
    out = tmp_path / "b.tar.gz"
    assert envkit("-f", str(path), "bundle", "save", "e", "-o", str(out)).code == 0
    with local_registry() as registry:
        pushed = envkit("bundle", "push", str(out), "--registry", registry)
        assert pushed.code == 0, pushed.err
        remote = f"{registry}/envkit-test-bundle/{name}:1"
        assert pushed.out.strip() == remote
        for tag in (ref, remote):
            docker_client.images.remove(tag, force=True)
        assert _gone(docker_client, remote)
        text = path.read_text().replace("  e: {}\n", f"  e: {{registry: '{registry}'}}\n")
        path.write_text(text)
        up = envkit("-f", str(path), "up", "e")
        assert up.code == 0, up.err
        assert f"image {remote} will be pulled" in up.err
        ctr = docker_client.containers.get(f"{name}-e-app-1")
        assert ctr.attrs["Config"]["Image"] == remote


def test_save_refuses_special_outputs_and_missing_folders(
    app: tuple[str, str, Path], tmp_path: Path
) -> None:
    _name, _ref, path = app
    dev = tmp_path / "null"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    ran = envkit("-f", str(path), "bundle", "save", "e", "-o", str(dev))
    assert ran.code == 2 and "error[bad-output]" in ran.err and "character device" in ran.err
    assert stat.S_ISCHR(os.lstat(dev).st_mode)
    ran = envkit("-f", str(path), "bundle", "save", "e", "-o", str(tmp_path / "no" / "b.tar.gz"))
    assert ran.code == 2 and "does not exist" in ran.err and "internal" not in ran.err


def test_a_failed_extract_loads_no_image(
    app: tuple[str, str, Path], tmp_path: Path, docker_client: Any
) -> None:
    _name, ref, path = app
    out = tmp_path / "b.tar.gz"
    assert envkit("-f", str(path), "bundle", "save", "e", "-o", str(out)).code == 0
    image_id = docker_client.images.get(ref).id
    docker_client.images.remove(ref, force=True)
    inside = tmp_path / "inside"
    inside.mkdir()
    (inside / "envkit.yaml").write_text("someone else's file\n")
    result = envkit("bundle", "load", str(out), "--extract", str(inside))
    assert result.code == 1 and "error[file-exists]" in result.err
    assert _gone(docker_client, image_id)
    assert (inside / "envkit.yaml").read_text() == "someone else's file\n"


def test_images_the_engine_has_are_not_loaded_again(
    app: tuple[str, str, Path], tmp_path: Path, docker_client: Any
) -> None:
    """Two images sharing their base layers: one docker save stores each layer once; with
    one image still on the engine, load sends only the other, and tags both."""
    name, ref, path = app
    second = f"envkit-test-bundle/{name}:2"
    docker_client.images.build(
        fileobj=io.BytesIO(f"FROM {ref}\nLABEL second={name}\n".encode()), tag=second, rm=True
    )
    path.write_text(
        path.read_text() + f"  other:\n    image: {second}\n    command: [sleep, '3600']\n"
    )
    out = tmp_path / "b.tar.gz"
    saved = envkit("-f", str(path), "bundle", "save", "e", "-o", str(out))
    assert saved.code == 0, saved.err
    with tarfile.open(out, "r:gz") as tar:
        layers = [m for m in tar if m.isfile() and m.name.endswith("layer.tar")]
        digests = [hashlib.sha256(tar.extractfile(m).read()).hexdigest() for m in layers]  # type: ignore[union-attr]
    assert len(digests) == len(set(digests))  # no layer stored twice
    ids = {r: docker_client.images.get(r).id for r in (ref, second)}
    again = envkit("bundle", "load", str(out))
    assert again.code == 0, again.err
    assert again.err.count("already on the engine") == 2
    docker_client.images.remove(second, force=True)
    docker_client.api.tag(ids[ref], "envkit-test-bundle/kept", name)  # the first image stays,
    docker_client.images.remove(ref)  # under another name only
    loaded = envkit("bundle", "load", str(out))
    assert loaded.code == 0, loaded.err
    assert f"{ref}: already on the engine" in loaded.err
    assert f"{second}: already on the engine" not in loaded.err
    assert f"Loaded image: {second}" in loaded.err and f"Loaded image: {ref}" not in loaded.err
    assert {r: docker_client.images.get(r).id for r in (ref, second)} == ids
    assert sorted(loaded.out.split()) == sorted([ref, second])

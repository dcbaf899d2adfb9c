"""Bundles without an engine: a stub engine "saves" a synthetic docker-save archive; the
tests check the manifest, every refusal (tampered, truncated, traversal, escaping links,
not a bundle, newer format), the temp-file-and-rename on a full disk, and secrets."""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from envkit.bundle import BundleError, extract_stack, load_bundle, save_bundle, verify_bundle
from envkit.bundle import save as save_module
from envkit.bundle.format import FORMAT_VERSION, MemberRecord, check_member
from envkit.engine.base import ImageInfo
from envkit.stackfile.pipeline import read, resolve

LAYER = os.urandom(200_000) + b"\0" * 100_000


def docker_save_tar() -> bytes:
    """What `docker save` streams (the pre-OCI layout, with a symlinked duplicate layer)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (
            ("abc.json", b'{"config": {}}'),
            ("l1/layer.tar", LAYER),
            ("l1/VERSION", b"1.0"),
            ("manifest.json", b'[{"Config": "abc.json", "RepoTags": ["app:1"]}]'),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("l2/layer.tar")
        link.type = tarfile.SYMTYPE
        link.linkname = "../l1/layer.tar"
        d = tarfile.TarInfo("l2")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        tar.addfile(link)
    return buf.getvalue()


@dataclass
class StubEngine:
    loaded: bytes = b""

    def ensure_image(self, spec: Any, on_output: Any = None) -> str:
        return "sha256:" + "a" * 64

    def image_info(self, ref: str) -> ImageInfo | None:
        return ImageInfo("sha256:" + "a" * 64, ("app:1",), len(LAYER))

    def save_images(self, refs: list[str]) -> Iterator[bytes]:
        assert refs == ["app:1"]
        data = docker_save_tar()
        for i in range(0, len(data), 65536):
            yield data[i : i + 65536]

    def load_images(self, data: Iterable[bytes], on_output: Any = None) -> list[str]:
        self.loaded = b"".join(data)
        return ["app:1"]


@pytest.fixture
def stack_dir(tmp_path: Path) -> Path:
    d = tmp_path / "proj"
    (d / "conf").mkdir(parents=True)
    (d / "conf" / "my.cnf").write_text("[mysqld]\n")
    (d / "dev.env").write_text("DB_PASSWORD=hunter2-secret\nOTHER=x\n")
    (d / "envkit.yaml").write_text(
        "stack: shop\n"
        "environments:\n  dev: {env_file: [dev.env]}\n"
        "services:\n  app:\n    image: app:1\n"
        "    environment: {P: '{{ env.DB_PASSWORD }}'}\n"
        "    volumes: ['./conf:/etc/conf:ro', './data:/data', '/etc/hostname:/h:ro']\n"
    )
    return d


def make_bundle(stack_dir: Path, out: Path, **kw: Any) -> str:
    resolved = resolve(read(stack_dir / "envkit.yaml"), "dev", environ={})
    return save_bundle(resolved, StubEngine(), str(out), **kw).path


def test_save_writes_header_stack_images_manifest(stack_dir: Path, tmp_path: Path) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")
    with tarfile.open(path, "r:gz") as tar:  # plain tar tools read it
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        env_file = tar.extractfile("stack/dev.env").read().decode()  # type: ignore[union-attr]
    assert names[0] == "envkit-bundle.json" and names[-1] == "manifest.json"
    assert "stack/envkit.yaml" in names and "stack/conf/my.cnf" in names
    assert "images/l1/layer.tar" in names and "images/l2/layer.tar" in names
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["stack"] == "shop" and manifest["environment"] == "dev"
    assert manifest["secrets"] == "omitted"
    assert manifest["images"][0]["refs"] == ["app:1"]
    assert manifest["images"][0]["id"].startswith("sha256:")
    layer = next(m for m in manifest["members"] if m["name"] == "images/l1/layer.tar")
    assert layer["size"] == len(LAYER) and len(layer["sha256"]) == 64
    assert {"name": "images/l2/layer.tar", "type": "symlink", "target": "../l1/layer.tar"} in (
        manifest["members"]
    )
    # secrets: names kept, values gone; read-write and outside binds are not included
    assert "hunter2-secret" not in env_file and "DB_PASSWORD=\n" in env_file
    assert any("./data" in o or "/data" in o for o in manifest["omitted"])
    assert any("/etc/hostname" in o for o in manifest["omitted"])
    assert oct(os.stat(path).st_mode & 0o777) != oct(0o600)


def test_include_secrets_keeps_env_values(stack_dir: Path, tmp_path: Path) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz", include_secrets=True)
    verified = verify_bundle(path)
    assert verified.manifest.secrets == "included"
    assert b"hunter2-secret" in verified.stack_files["stack/dev.env"]


def test_verify_load_and_extract_roundtrip(stack_dir: Path, tmp_path: Path) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")
    verified = verify_bundle(path)
    assert verified.compression == "gzip"
    engine = StubEngine()
    assert load_bundle(verified, engine) == ["app:1"]
    # the engine got docker's own archive back, names without images/
    with tarfile.open(fileobj=io.BytesIO(engine.loaded)) as tar:
        assert tar.getnames() == [
            "abc.json",
            "l1/layer.tar",
            "l1/VERSION",
            "manifest.json",
            "l2",
            "l2/layer.tar",
        ]
        assert tar.extractfile("l1/layer.tar").read() == LAYER  # type: ignore[union-attr]
    out = tmp_path / "extracted"
    written = extract_stack(verified, str(out))
    assert (out / "envkit.yaml").read_text().startswith("stack: shop")
    assert len(written) == 3  # stack file, env file, the read-only bind source
    (out / "envkit.yaml").write_text("changed")
    with pytest.raises(BundleError, match="exists and differs"):
        extract_stack(verified, str(out))


def test_zstd_roundtrip(stack_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("zstandard")
    path = make_bundle(stack_dir, tmp_path / "b.tar.zst", compression="zstd")
    verified = verify_bundle(path)
    assert verified.compression == "zstd"
    assert verified.manifest.compression == "zstd"


def _rewrite(path: str, out: Path, change: Any) -> str:
    """Decompress, let ``change(members)`` edit the (info, data) list, write gzip again."""
    with tarfile.open(path, "r:gz") as tar:
        members = [(m, tar.extractfile(m).read() if m.isfile() else b"") for m in tar]  # type: ignore[union-attr]
    members = change(members)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    out.write_bytes(gzip.compress(buf.getvalue()))
    return str(out)


def test_one_changed_byte_is_refused_naming_the_member(stack_dir: Path, tmp_path: Path) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")

    def flip(members: list[Any]) -> list[Any]:
        out = []
        for info, data in members:
            if info.name == "images/l1/layer.tar":
                data = bytes([data[0] ^ 1]) + data[1:]
            out.append((info, data))
        return out

    bad = _rewrite(path, tmp_path / "bad.tar.gz", flip)
    engine = StubEngine()
    with pytest.raises(BundleError) as err:
        load_bundle(verify_bundle(bad), engine)
    assert err.value.code == "bundle-tampered"
    assert "'images/l1/layer.tar'" in err.value.message and "sha256" in err.value.message
    assert engine.loaded == b""


def test_a_changed_byte_in_the_compressed_file_is_refused(stack_dir: Path, tmp_path: Path) -> None:
    path = Path(make_bundle(stack_dir, tmp_path / "b.tar.gz"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError) as err:
        verify_bundle(str(path))
    assert err.value.code in ("bundle-truncated", "bundle-tampered")
    assert "nothing was loaded" in err.value.message


def test_truncated_bundle(stack_dir: Path, tmp_path: Path) -> None:
    path = Path(make_bundle(stack_dir, tmp_path / "b.tar.gz"))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(BundleError) as err:
        verify_bundle(str(path))
    assert err.value.code == "bundle-truncated"
    assert "truncated or damaged" in err.value.message


def test_not_a_bundle(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 100)
    with pytest.raises(BundleError, match="not an envkit bundle") as err:
        verify_bundle(str(text))
    assert err.value.code == "not-a-bundle"
    other = tmp_path / "other.tar.gz"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("README")
        tar.addfile(info, io.BytesIO())
    other.write_bytes(gzip.compress(buf.getvalue()))
    with pytest.raises(BundleError, match="first member is 'README'"):
        verify_bundle(str(other))


def test_newer_format_is_refused(stack_dir: Path, tmp_path: Path) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")

    def newer(members: list[Any]) -> list[Any]:
        info, data = members[0]
        header = json.loads(data)
        header["format_version"] = FORMAT_VERSION + 1
        header["envkit_version"] = "9.0"
        return [(info, json.dumps(header).encode()), *members[1:]]

    bad = _rewrite(path, tmp_path / "new.tar.gz", newer)
    with pytest.raises(BundleError) as err:
        verify_bundle(bad)
    assert err.value.code == "bundle-newer-format"
    assert f"format version {FORMAT_VERSION + 1} (made by envkit 9.0)" in err.value.message


def _info(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    ("info", "why"),
    [
        (_info("/etc/passwd"), "absolute path"),
        (_info("images/../../etc/passwd"), "contains '..'"),
        (_info("stack/../x"), "contains '..'"),
        (_info("images/dev", tarfile.CHRTYPE), "not a file, folder or link"),
        (_info("images/x", tarfile.SYMTYPE, "/etc/passwd"), "absolute path '/etc/passwd'"),
        (_info("images/a/x", tarfile.SYMTYPE, "../../../etc"), "pointing outside"),
        (_info("images/x", tarfile.SYMTYPE, "../stack/envkit.yaml"), "pointing outside"),
        (_info("images/x", tarfile.LNKTYPE, "stack/envkit.yaml"), "pointing outside"),
        (_info("stack/link", tarfile.SYMTYPE, "envkit.yaml"), "a link outside images/"),
    ],
)
def test_unsafe_members(info: tarfile.TarInfo, why: str) -> None:
    with pytest.raises(BundleError) as err:
        check_member(info)
    assert err.value.code == "unsafe-member"
    assert why in err.value.message


def test_safe_members() -> None:
    assert check_member(_info("images/l2/layer.tar", tarfile.SYMTYPE, "../l1/layer.tar")) == (
        MemberRecord("images/l2/layer.tar", "symlink", 0, "", "../l1/layer.tar")
    )
    assert check_member(_info("images/./a")).name == "images/a"


def test_path_traversal_member_in_a_bundle_is_refused(stack_dir: Path, tmp_path: Path) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")

    def evil(members: list[Any]) -> list[Any]:
        return [*members[:-1], (_info("images/../../evil"), b"x"), members[-1]]

    with pytest.raises(BundleError, match=r"contains '\.\.'"):
        verify_bundle(_rewrite(path, tmp_path / "evil.tar.gz", evil))

    def escaping(members: list[Any]) -> list[Any]:
        return [
            *members[:-1],
            (_info("images/esc", tarfile.SYMTYPE, "../../etc"), b""),
            members[-1],
        ]

    with pytest.raises(BundleError, match="pointing outside"):
        verify_bundle(_rewrite(path, tmp_path / "esc.tar.gz", escaping))


def test_disk_full_leaves_no_file(
    stack_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = {"n": 0}
    real = save_module._Sink.write

    def full(self: Any, data: bytes) -> int:
        written["n"] += len(data)
        if written["n"] > 100_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(save_module._Sink, "write", full)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(BundleError) as err:
        make_bundle(stack_dir, out / "b.tar.gz")
    assert err.value.code == "bundle-write-failed"
    assert "No space left on device" in err.value.message
    assert err.value.hint is not None and "free some space" in err.value.hint
    assert list(out.iterdir()) == []  # neither the final name nor a .part file


def test_default_name(stack_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    monkeypatch.chdir(tmp_path)
    resolved = resolve(read(stack_dir / "envkit.yaml"), "dev", environ={})
    day = datetime(2024, 5, 17, tzinfo=UTC)
    result = save_bundle(resolved, StubEngine(), None, now=day)
    assert result.path == "shop-dev_20240517.envkit.tar.gz"
    assert len(result.sha256) == 64

"""Bundles without an engine: a stub engine "saves" a synthetic docker-save archive; the
tests check the manifest, every refusal (tampered, truncated, traversal, escaping links,
not a bundle, newer format), the temp-file-and-rename on a full disk, and secrets."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import json
import os
import socket
import stat
import tarfile
import tracemalloc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from envkit.bundle import (
    BundleError,
    extract_stack,
    load_bundle,
    load_onto_engines,
    open_bundle,
    save_bundle,
    verify_and_load,
    verify_bundle,
)
from envkit.bundle import read as read_module
from envkit.bundle import save as save_module
from envkit.bundle.format import FORMAT_VERSION, MemberRecord, check_member
from envkit.bundle.secretfiles import SecretMarkers
from envkit.cli import main
from envkit.engine.base import ImageInfo
from envkit.errors import EngineError, StackError, UsageError
from envkit.stackfile.pipeline import read, resolve

LAYER = os.urandom(200_000) + b"\0" * 100_000
IMAGE_ID = "sha256:" + "a" * 64
CONFIG = "a" * 64 + ".json"


def docker_save_tar(
    tags: tuple[str, ...] = ("app:1",), extra: bytes = b"", config: str = CONFIG
) -> bytes:
    """What `docker save` streams (the pre-OCI layout, with a symlinked duplicate layer)."""
    entry = {"Config": config, "RepoTags": list(tags), "Layers": ["l1/layer.tar", "l2/layer.tar"]}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (
            (config, b'{"config": {}}'),
            ("l1/layer.tar", LAYER),
            ("l1/VERSION", b"1.0"),
            ("manifest.json", json.dumps([entry]).encode()),
            *((("repositories", extra),) if extra else ()),
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
    """An engine with one image (``has``), which save streams and load loads."""

    has: bool = True
    loaded: bytes = b""
    loads: int = 0
    tags: list[tuple[str, str]] = field(default_factory=list)
    archive: bytes = field(default_factory=docker_save_tar)

    def ensure_image(self, spec: Any, on_output: Any = None) -> str:
        return IMAGE_ID

    def image_info(self, ref: str) -> ImageInfo | None:
        return ImageInfo(IMAGE_ID, ("app:1",), len(LAYER)) if self.has else None

    def save_images(self, refs: list[str]) -> Iterator[bytes]:
        assert refs == ["app:1"]
        for i in range(0, len(self.archive), 65536):
            yield self.archive[i : i + 65536]

    def load_images(self, data: Iterable[bytes], on_output: Any = None) -> list[str]:
        self.loaded = b"".join(data)
        self.loads += 1
        self.has = True
        return ["app:1"]

    def tag_image(self, image: str, ref: str) -> None:
        self.tags.append((image, ref))


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
    engine = StubEngine(has=False)
    with open_bundle(path) as verified:
        assert verified.compression == "gzip"
        assert load_bundle(verified, engine) == ["app:1"]
    # the engine got docker's own archive back, names without images/
    with tarfile.open(fileobj=io.BytesIO(engine.loaded)) as tar:
        # the big layer as it comes; what makes the engine act only after verification
        assert tar.getnames() == [
            "l2",
            CONFIG,
            "l1/layer.tar",
            "l1/VERSION",
            "manifest.json",
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
    engine = StubEngine(has=False)
    with pytest.raises(BundleError) as err, open_bundle(bad) as verified:
        load_bundle(verified, engine)
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


# -- where save writes ------------------------------------------------------------------


def _refused_output(stack_dir: Path, target: Path) -> UsageError:
    with pytest.raises(UsageError) as err:
        make_bundle(stack_dir, target)
    assert err.value.exit_code == 2 and err.value.code == "bad-output"
    return err.value


def test_save_refuses_a_device_and_leaves_it_a_device(stack_dir: Path, tmp_path: Path) -> None:
    dev = tmp_path / "null"
    os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null of our own
    err = _refused_output(stack_dir, dev)
    assert "character device" in err.message
    assert stat.S_ISCHR(os.lstat(dev).st_mode)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_save_refuses_a_fifo_a_socket_and_a_folder(stack_dir: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert "FIFO" in _refused_output(stack_dir, fifo).message
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    sock_path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        assert "socket" in _refused_output(stack_dir, sock_path).message
    folder = tmp_path / "folder"
    folder.mkdir()
    err = _refused_output(stack_dir, folder)
    assert "folder" in err.message and err.hint is not None and "file name inside" in err.hint
    assert list(folder.iterdir()) == []


def test_save_does_not_follow_a_symlink_at_the_target(stack_dir: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    link = tmp_path / "out.tar.gz"
    link.symlink_to(victim)
    assert "symbolic link" in _refused_output(stack_dir, link).message
    assert victim.read_text() == "precious\n" and link.is_symlink()


def test_save_into_a_missing_folder_is_a_usage_error(stack_dir: Path, tmp_path: Path) -> None:
    err = _refused_output(stack_dir, tmp_path / "missing" / "b.tar.gz")
    assert "does not exist" in err.message and err.hint is not None and "mkdir" in err.hint


def test_save_replaces_a_regular_file_and_hashes_what_it_wrote(
    stack_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "b.tar.gz"
    out.write_text("old")
    resolved = resolve(read(stack_dir / "envkit.yaml"), "dev", environ={})
    result = save_bundle(resolved, StubEngine(), str(out))
    assert result.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert result.size == out.stat().st_size


# -- secret files -------------------------------------------------------------------------


def test_secret_looking_files_in_a_bind_mount_are_left_out(stack_dir: Path, tmp_path: Path) -> None:
    secrets = stack_dir / "secrets"
    secrets.mkdir()
    (secrets / "db").write_text("s3cret-in-a-file\n")
    (stack_dir / "conf" / "server.key").write_text("-----BEGIN PRIVATE KEY-----\n")
    (stack_dir / "conf" / "users.db").write_text("alice:hash\n")
    (stack_dir / "conf" / "monkey.cnf").write_text("[ok]\n")
    text = (stack_dir / "envkit.yaml").read_text()
    text = text.replace(
        "'./conf:/etc/conf:ro'", "'./conf:/etc/conf:ro', './secrets:/run/secrets:ro'"
    )
    (stack_dir / "envkit.yaml").write_text("x-envkit-secret-files: [conf/users.db]\n" + text)
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")
    raw = gzip.decompress(Path(path).read_bytes())
    assert b"s3cret-in-a-file" not in raw and b"PRIVATE KEY" not in raw
    assert b"alice:hash" not in raw and b"hunter2-secret" not in raw
    m = verify_bundle(path).manifest
    assert "stack/conf/monkey.cnf" in {x.name for x in m.members}
    assert m.secrets == "omitted"
    assert sorted(m.secret_files) == [
        "conf/server.key: left out, its path looks secret ('server.key') (services.app)",
        "conf/users.db: left out, named by x-envkit-secret-files ('conf/users.db') (services.app)",
        "dev.env: values blanked (an env file)",
        "secrets/db: left out, its path looks secret ('secrets') (services.app)",
    ]
    kept = verify_bundle(make_bundle(stack_dir, tmp_path / "all.tar.gz", include_secrets=True))
    assert kept.stack_files["stack/secrets/db"] == b"s3cret-in-a-file\n"
    assert kept.manifest.secret_files == ()


@pytest.mark.parametrize(
    ("relative", "secret"),
    [
        ("secrets/db", True),
        ("conf/db_password.txt", True),
        ("conf/API-TOKEN", True),
        ("ssh/id_rsa", True),
        ("tls/server.key", True),
        ("tls/ca.pem", True),
        ("credentials.json", True),
        ("private/x", True),
        ("conf/monkey.cnf", False),
        ("conf/keyboard.map", False),
        ("conf/my.cnf", False),
    ],
)
def test_secret_markers(relative: str, secret: bool) -> None:
    assert (SecretMarkers().reason(relative) is not None) is secret


def test_declared_secret_patterns() -> None:
    markers = SecretMarkers(("conf/*.db", "certs"))
    assert markers.reason("conf/users.db") is not None
    assert markers.reason("conf/sub/users.db") is None  # * does not cross /
    assert markers.reason("certs/a/b.crt") is not None  # a folder covers what is under it
    assert markers.reason("certs2/b.crt") is None
    compose = SecretMarkers(files=(("conf/db.txt", "secrets.db (Compose secrets:)"),))
    assert compose.reason("conf/db.txt") == "secrets.db (Compose secrets:)"
    assert compose.reason("conf/db.txt.bak") is None


def test_secret_files_key_must_be_a_list(stack_dir: Path, tmp_path: Path) -> None:
    text = (stack_dir / "envkit.yaml").read_text()
    (stack_dir / "envkit.yaml").write_text("x-envkit-secret-files: conf\n" + text)
    with pytest.raises(StackError) as err:
        make_bundle(stack_dir, tmp_path / "b.tar.gz")
    assert err.value.exit_code == 2 and err.value.code == "invalid-secret-files"
    assert str(err.value.origin).endswith("envkit.yaml:1:24")


def test_symlinks_in_a_read_only_bind_folder_are_reported(stack_dir: Path, tmp_path: Path) -> None:
    (stack_dir / "conf" / "link.cnf").symlink_to("my.cnf")
    (stack_dir / "conf" / "etc").symlink_to("/etc")
    m = verify_bundle(make_bundle(stack_dir, tmp_path / "b.tar.gz")).manifest
    names = {x.name for x in m.members}
    assert "stack/conf/my.cnf" in names and "stack/conf/link.cnf" not in names
    links = [o for o in m.omitted if "symbolic link" in o]
    assert len(links) == 2
    assert any(o.startswith("conf/link.cnf ") and "'my.cnf'" in o for o in links)
    assert any(o.startswith("conf/etc ") and "'/etc'" in o for o in links)


# -- the docker save archive's own names ----------------------------------------------------


@pytest.mark.parametrize(
    "engine",
    [
        StubEngine(archive=docker_save_tar(tags=("app:1", "envkit/mariadb:latest"))),
        StubEngine(archive=docker_save_tar(extra=b'{"envkit/mariadb": {"latest": "ab"}}')),
        StubEngine(archive=docker_save_tar(tags=("docker.io/library/app:2",))),
    ],
    ids=["RepoTags", "repositories", "other-tag"],
)
def test_a_tag_the_manifest_does_not_show_is_refused(
    stack_dir: Path, tmp_path: Path, engine: StubEngine
) -> None:
    resolved = resolve(read(stack_dir / "envkit.yaml"), "dev", environ={})
    path = save_bundle(resolved, engine, str(tmp_path / "b.tar.gz")).path
    loader = StubEngine(has=False)
    with pytest.raises(BundleError) as err, open_bundle(path) as verified:
        load_bundle(verified, loader)
    assert err.value.code == "bundle-tampered"
    assert "would tag" in err.value.message and "nothing was loaded" in err.value.message
    assert loader.loads == 0


def test_an_image_the_manifest_lacks_is_refused(stack_dir: Path, tmp_path: Path) -> None:
    other = docker_save_tar(config="b" * 64 + ".json")
    resolved = resolve(read(stack_dir / "envkit.yaml"), "dev", environ={})
    path = save_bundle(resolved, StubEngine(archive=other), str(tmp_path / "b.tar.gz")).path
    with pytest.raises(BundleError, match=r"holds an image .* that the bundle's manifest lacks"):
        verify_bundle(path)


# -- loading: what the engine has is skipped; the private copy -------------------------------


def test_an_image_the_engine_has_is_not_loaded_again(stack_dir: Path, tmp_path: Path) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")
    engine = StubEngine(has=True)
    lines: list[str] = []
    with open_bundle(path) as verified:
        assert load_bundle(verified, engine, on_output=lines.append) == ["app:1"]
    assert engine.loads == 0 and engine.loaded == b""
    assert lines == [f"app:1: already on the engine ({IMAGE_ID[:19]})"]


def test_the_private_copy_is_private_and_always_removed(
    stack_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spools = tmp_path / "spools"
    spools.mkdir()
    monkeypatch.setenv("ENVKIT_BUNDLE_TMPDIR", str(spools))
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")
    with open_bundle(path) as verified:
        assert verified.images_tar is not None
        folder = Path(verified.images_tar).parent
        assert folder.parent == spools
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(Path(verified.images_tar).stat().st_mode) == 0o600
    assert list(spools.iterdir()) == []
    Path(path).write_bytes(Path(path).read_bytes()[:-3000])  # truncated: refused
    with pytest.raises(BundleError), open_bundle(path):
        pass
    assert list(spools.iterdir()) == []


# -- expansion limits -----------------------------------------------------------------------


def _bomb(path: Path, member: str, size: int) -> None:
    """A gzip bundle whose one member is ``size`` zero bytes, written in bounded memory."""
    header = json.dumps(
        {"format": "envkit-bundle", "format_version": 1, "envkit_version": "0", "created": "x",
         "stack": "s", "environment": "e"}
    ).encode()  # fmt: skip
    with gzip.open(path, "wb", compresslevel=1) as gz, tarfile.open(fileobj=gz, mode="w|") as tar:
        info = tarfile.TarInfo("envkit-bundle.json")
        info.size = len(header)
        tar.addfile(info, io.BytesIO(header))
        info = tarfile.TarInfo(member)
        info.size = size
        tar.addfile(info, _Zeros(size))


class _Zeros:
    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return b"\0" * n


@pytest.mark.parametrize("member", ["images/bomb", "stack/bomb"])
def test_a_compression_bomb_is_refused_in_bounded_memory(member: str, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    _bomb(bomb, member, 64 << 20)  # 64 MB of zeros in about 64 KB
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(BundleError) as err, open_bundle(str(bomb)):
            pass
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.value.code == "bundle-too-large"
    assert "100 times its size" in err.value.message
    assert err.value.hint is not None and "ENVKIT_BUNDLE_MAX_RATIO" in err.value.hint
    assert peak < 40 << 20


def test_expansion_limits_are_configurable(
    stack_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")
    verify_bundle(path)
    monkeypatch.setenv("ENVKIT_BUNDLE_MAX_BYTES", "100K")
    with pytest.raises(BundleError, match="the absolute limit") as err:
        verify_bundle(path)
    assert err.value.hint is not None and "ENVKIT_BUNDLE_MAX_BYTES" in err.value.hint
    monkeypatch.setenv("ENVKIT_BUNDLE_MAX_BYTES", "1G")
    monkeypatch.setenv("ENVKIT_BUNDLE_MAX_MEMBERS", "4")
    with pytest.raises(BundleError, match="the most members"):
        verify_bundle(path)
    monkeypatch.setenv("ENVKIT_BUNDLE_MAX_MEMBERS", "100")
    monkeypatch.setenv("ENVKIT_BUNDLE_MAX_STACK", "10")
    with pytest.raises(BundleError, match="the limit for stack files"):
        verify_bundle(path)
    monkeypatch.setenv("ENVKIT_BUNDLE_MAX_STACK", "lots")
    with pytest.raises(UsageError, match="ENVKIT_BUNDLE_MAX_STACK='lots' is not a size"):
        verify_bundle(path)


# -- a header that nests too deep -----------------------------------------------------------


def test_a_deeply_nested_header_is_a_located_error(stack_dir: Path, tmp_path: Path) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")

    def deep(members: list[Any]) -> list[Any]:
        info, _ = members[0]
        return [(info, b'{"format":\n  ' + b"[" * 20_000 + b"]" * 20_000 + b"}"), *members[1:]]

    bad = _rewrite(path, tmp_path / "deep.tar.gz", deep)
    out, err = io.StringIO(), io.StringIO()
    assert main(["bundle", "inspect", bad], stdout=out, stderr=err) == 2
    assert err.getvalue().startswith(f"{bad}:envkit-bundle.json:2:34: error[bundle-damaged]: ")
    assert "nests deeper than 32 levels" in err.getvalue() and "internal" not in err.getvalue()


# -- verify and load in one pass ---------------------------------------------------------------


@dataclass
class ReadingEngine(StubEngine):
    """Keeps what it read of the stream even when the stream fails."""

    received: list[bytes] = field(default_factory=list)

    def load_images(self, data: Iterable[bytes], on_output: Any = None) -> list[str]:
        for chunk in data:
            self.received.append(chunk)
        return super().load_images(self.received)


def test_one_pass_load_sends_what_makes_the_engine_act_only_once_verified(
    stack_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_module, "_HOLD", 1000)  # the test layer streams as it comes
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")
    engine = ReadingEngine(has=False)
    order: list[str] = []
    _verified, refs = verify_and_load(
        path, engine, before_load=lambda v: order.append(f"extract {v.manifest.stack}")
    )
    assert refs == ["app:1"] and engine.loads == 1 and order == ["extract shop"]
    with tarfile.open(fileobj=io.BytesIO(engine.loaded)) as tar:
        names = tar.getnames()
        assert tar.extractfile("l1/layer.tar").read() == LAYER  # type: ignore[union-attr]
    assert names.index("l1/layer.tar") < names.index("manifest.json")

    def flip(members: list[Any]) -> list[Any]:
        return [
            (i, bytes([d[0] ^ 1]) + d[1:] if i.name == "images/l1/layer.tar" else d)
            for i, d in members
        ]

    bad = _rewrite(path, tmp_path / "bad.tar.gz", flip)
    engine = ReadingEngine(has=False)
    with pytest.raises(BundleError, match="sha256 differs"):
        verify_and_load(bad, engine, before_load=order.append)
    sent = b"".join(engine.received)
    assert LAYER[1:] in sent  # the layer went out as it was read ...
    assert b"RepoTags" not in sent and CONFIG.encode() not in sent  # ... docker's manifest not
    assert engine.loads == 0 and len(order) == 1  # nor was anything extracted


def test_a_failed_extract_sends_no_manifest(stack_dir: Path, tmp_path: Path) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")
    engine = ReadingEngine(has=False)

    def refuse(verified: Any) -> None:
        raise BundleError("extract failed", code="file-exists")

    with pytest.raises(BundleError, match="extract failed"):
        verify_and_load(path, engine, before_load=refuse)
    assert b"RepoTags" not in b"".join(engine.received) and engine.loads == 0


def test_one_pass_load_skips_what_the_engine_has(stack_dir: Path, tmp_path: Path) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")
    engine = ReadingEngine(has=True)
    _verified, refs = verify_and_load(path, engine)
    assert refs == ["app:1"] and engine.loads == 0 and engine.received == []


def test_a_header_naming_other_images_is_refused(stack_dir: Path, tmp_path: Path) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")

    def other(members: list[Any]) -> list[Any]:
        info, data = members[0]
        header = json.loads(data)
        header["image_ids"] = ["sha256:" + "b" * 64]
        return [(info, json.dumps(header).encode()), *members[1:]]

    bad = _rewrite(path, tmp_path / "other.tar.gz", other)
    for has in (False, True):  # the header decides what to skip; the manifest checks it
        engine = ReadingEngine(has=has)
        with pytest.raises(BundleError, match=r"'envkit-bundle\.json' is damaged or was changed"):
            verify_and_load(bad, engine)
        assert engine.loads == 0


def test_a_fifo_made_at_the_target_while_saving_is_not_replaced(
    stack_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "b.tar.gz"
    real = save_module._write

    def slow_write(*args: Any) -> Any:
        os.mkfifo(target)  # someone makes the path a FIFO while the images are written
        return real(*args)

    monkeypatch.setattr(save_module, "_write", slow_write)
    assert "FIFO" in _refused_output(stack_dir, target).message
    assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.tar.gz", "proj"]  # no .part left


# -- several engines at once (every node of a Swarm without a registry) ---------------------


@dataclass
class BrokenEngine(StubEngine):
    def load_images(self, data: Iterable[bytes], on_output: Any = None) -> list[str]:
        for _ in data:
            pass
        raise EngineError("the engine's disk is full", code="load-failed")


def test_load_onto_engines_loads_each_and_names_the_ones_that_failed(
    stack_dir: Path, tmp_path: Path
) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")
    n1, n2, n3 = StubEngine(has=False), BrokenEngine(has=False), StubEngine(has=True)
    with open_bundle(path) as verified:
        ok = load_onto_engines(verified, {"n1": n1, "n3": n3})
        assert ok == {"n1": ["app:1"], "n3": ["app:1"]}
        assert (n1.loads, n3.loads) == (1, 0)  # n3 had the image: nothing loaded
        with pytest.raises(BundleError) as err:
            load_onto_engines(verified, {"n1": StubEngine(has=False), "n2": n2})
    assert err.value.code == "load-failed"
    assert err.value.message == (
        "the bundle's images could not be loaded onto 1 of 2 engines; loaded onto n1"
    )
    assert err.value.detail == "  n2: the engine's disk is full"


def test_push_needs_a_registry_or_an_environment_that_has_one(
    stack_dir: Path, tmp_path: Path
) -> None:
    path = make_bundle(stack_dir, tmp_path / "b.tar.gz")
    out, err = io.StringIO(), io.StringIO()
    assert main(["bundle", "push", path], stdout=out, stderr=err) == 2
    assert "error[usage]: bundle push needs --registry HOST:PORT or --env ENV" in err.getvalue()
    stack = str(stack_dir / "envkit.yaml")
    err = io.StringIO()
    assert main(["-f", stack, "bundle", "push", path, "--env", "dev"], stdout=out, stderr=err) == 2
    assert f"environment dev of {stack} has no `registry:`" in err.getvalue()
    assert "hint: set `registry: HOST:PORT` on environments.dev" in err.getvalue()
    assert out.getvalue() == ""

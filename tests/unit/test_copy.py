"""``envkit cp``: the SERVICE:PATH syntax, and unpacking a container's archive safely
(a container's files are whatever its processes made: never trust the tar)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from envkit.cli.commands.copy import Side, parse_side, unpack
from envkit.errors import EnvkitError, UsageError


@pytest.mark.parametrize(
    ("text", "side"),
    [
        ("db:/etc/hosts", Side("db", "/etc/hosts")),
        ("web-2:rel/x", Side("web-2", "rel/x")),
        ("./a:b", Side(None, "./a:b")),
        ("/tmp/a:b", Side(None, "/tmp/a:b")),
        ("plain", Side(None, "plain")),
    ],
)
def test_sides(text: str, side: Side) -> None:
    assert parse_side(text) == side


def test_a_service_without_a_path_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="names no path"):
        parse_side("db:")


def _tar(*members: tuple[tarfile.TarInfo, bytes]) -> list[bytes]:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    raw = buf.getvalue()
    return [raw[i : i + 100] for i in range(0, len(raw), 100)]  # in chunks, like the engine


def _file(name: str) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), b"content\n"


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


def test_a_file_and_a_folder_land_where_docker_cp_puts_them(tmp_path: Path) -> None:
    assert unpack(iter(_tar(_file("hosts"))), "hosts", tmp_path / "out") == tmp_path / "out"
    assert (tmp_path / "out").read_bytes() == b"content\n"
    folder = tmp_path / "into"
    folder.mkdir()
    conf, inner = tarfile.TarInfo("conf"), _file("conf/a.cnf")
    conf.type = tarfile.DIRTYPE
    unpack(iter(_tar((conf, b""), inner, _link("conf/link", "a.cnf"))), "conf", folder)
    assert (folder / "conf" / "a.cnf").read_bytes() == b"content\n"
    assert (folder / "conf" / "link").is_symlink()  # kept as a link, inside the tree
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".envkit-cp")] == []


@pytest.mark.parametrize(
    "members",
    [
        [_file("../escape")],
        [_file("/etc/escape")],
        [_link("x", "/etc/passwd")],  # an absolute link
        [_link("x", "../../outside")],
        [_link("d", ".."), _file("d/escape")],  # write through a link out of the tree
        [_link("x", "/etc/passwd", tarfile.LNKTYPE)],  # a hard link to a host file
    ],
    ids=["dotdot", "absolute", "abs-symlink", "rel-symlink-out", "through-link", "hardlink"],
)
def test_hostile_archives_are_refused_and_nothing_escapes(
    tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes]]
) -> None:
    dest = tmp_path / "a" / "b"
    dest.parent.mkdir(parents=True)
    with pytest.raises(EnvkitError) as refused:
        unpack(iter(_tar(*members)), "x", dest)
    assert refused.value.code == "unsafe-archive"
    assert not (tmp_path / "escape").exists() and not (tmp_path / "a" / "escape").exists()
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a"]  # scratch folder removed


def test_fifos_and_devices_are_refused(tmp_path: Path) -> None:
    fifo = tarfile.TarInfo("x")
    fifo.type = tarfile.FIFOTYPE
    with pytest.raises(EnvkitError, match="refused"):
        unpack(iter(_tar((fifo, b""))), "x", tmp_path / "x")
    dev = tarfile.TarInfo("x")
    dev.type, dev.devmajor, dev.devminor = tarfile.CHRTYPE, 1, 3
    with pytest.raises(EnvkitError, match="refused"):
        unpack(iter(_tar((dev, b""))), "x", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_an_archive_without_the_expected_entry_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EnvkitError, match="holds no 'hosts'"):
        unpack(iter(_tar(_file("other"))), "hosts", tmp_path / "out")
    assert not (tmp_path / "other").exists() and not (tmp_path / "out").exists()

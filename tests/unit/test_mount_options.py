"""Compose's mount options: the short syntax's modes (z, Z, nocopy, a propagation) and the
long form's volume/bind/tmpfs blocks, parsed into Mount fields, checked against the mount's
type, turned into the engine's create request, and printed back by ``envkit config``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from envkit.canonical import spec_hash
from envkit.cli.commands.config import _mount
from envkit.engine.docker_mounts import container_mounts
from envkit.errors import EngineError
from envkit.model import DesiredState, Mount, MountType, Propagation, ServiceSpec
from envkit.stackfile.syntax import Invalid, parse_mount

DIR = Path("/srv/stack")
V, B, T = MountType.VOLUME, MountType.BIND, MountType.TMPFS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("./x:/x:ro,z", Mount(B, "/x", "/srv/stack/x", True, selinux="z", create_host_path=True)),
        ("./x:/x:Z", Mount(B, "/x", "/srv/stack/x", selinux="Z", create_host_path=True)),
        ("data:/d:nocopy", Mount(V, "/d", "data", no_copy=True)),
        ("data:/d:ro,nocopy,z", Mount(V, "/d", "data", True, no_copy=True, selinux="z")),
        ("/h:/c:rslave", Mount(B, "/c", "/h", propagation=Propagation.RSLAVE,
                               create_host_path=True)),
        ("/anon:nocopy", Mount(V, "/anon", no_copy=True)),
        ("/h:/c:rw,cached", Mount(B, "/c", "/h", create_host_path=True)),
        ({"type": "volume", "source": "data", "target": "/d",
          "volume": {"nocopy": True, "subpath": "a/./b"}},
         Mount(V, "/d", "data", no_copy=True, subpath="a/b")),
        ({"type": "bind", "source": "./c", "target": "/c",
          "bind": {"create_host_path": True, "propagation": "rprivate", "selinux": "Z"}},
         Mount(B, "/c", "/srv/stack/c", create_host_path=True,
               propagation=Propagation.RPRIVATE, selinux="Z")),
        ({"type": "tmpfs", "target": "/t", "tmpfs": {"size": "1m", "mode": 0o1770}},
         Mount(T, "/t", tmpfs_size=1 << 20, tmpfs_mode=0o1770)),
        ({"type": "tmpfs", "target": "/t", "tmpfs": {"size": 4096}},
         Mount(T, "/t", tmpfs_size=4096)),
        ({"type": "volume", "target": "/d", "volume": {}}, Mount(V, "/d")),
    ],
)  # fmt: skip
def test_mount_options(value: Any, expected: Mount) -> None:
    assert parse_mount(value, DIR) == expected


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("./x:/x:z,Z", "a mount takes z or Z, not several"),
        ("/h:/c:shared,slave", "a mount takes one propagation, not several"),
        ("./x:/x:nocopy", "nocopy and subpath are for volumes, not for a bind or tmpfs"),
        ("data:/d:rshared", "propagation and create_host_path are for bind mounts"),
        ("/anon:z", "z and Z relabel a bind mount or a named volume: name the volume (NAME:/path:z) or drop the z"),
        ({"type": "volume", "target": "/d", "bind": {"selinux": "z"}},
         "bind: options are for a mount of type bind"),
        ({"type": "bind", "source": "/h", "target": "/d", "tmpfs": {"size": 1}},
         "tmpfs: options are for a mount of type tmpfs"),
        ({"type": "volume", "source": "d", "target": "/d", "volume": {"subpath": "../x"}},
         "subpath is a relative path inside the volume, without '..'"),
        ({"type": "volume", "source": "d", "target": "/d", "volume": {"subpath": "/x"}},
         "subpath is a relative path inside the volume, without '..'"),
        ({"type": "bind", "source": "/h", "target": "/d", "bind": {"propagation": "up"}},
         "propagation is one of private, rprivate, rshared, rslave, shared, slave"),
        ({"type": "bind", "source": "/h", "target": "/d", "bind": {"selinux": "x"}},
         "selinux is z (shared) or Z (private)"),
        ({"type": "tmpfs", "target": "/t", "tmpfs": {"mode": 0o17777}},
         "tmpfs mode is permission bits, e.g. 0o1777 (octal)"),
        ({"type": "volume", "target": "/d", "volume": {"nocopy": "yes"}},
         "nocopy must be true or false"),
        ({"type": "volume", "target": "/d", "volume": "x"}, "volume is a mapping of options"),
        # a ':' in a path would move the split of the engine's SOURCE:TARGET:MODES string
        ({"type": "bind", "source": "/a:/etc", "target": "/c", "bind": {"selinux": "z"}},
         "a path with ':' cannot take z, Z or create_host_path (the engine reads those from"
         " a SOURCE:TARGET:MODES string)"),
        ({"type": "bind", "source": "/h", "target": "/c:ro", "bind": {"create_host_path": True}},
         "a path with ':' cannot take z, Z or create_host_path (the engine reads those from"
         " a SOURCE:TARGET:MODES string)"),
    ],
)  # fmt: skip
def test_bad_mount_options_say_why(value: Any, hint: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_mount(value, DIR)
    assert caught.value.hint == hint


def test_options_at_their_default_leave_the_spec_hash_alone() -> None:
    """A stack that does not use the new options keeps its hash: no recreate on upgrade."""
    plain = ServiceSpec("db", "x", mounts=(Mount(V, "/d", "data"),))
    assert spec_hash(plain) == "v2-" + spec_hash(plain)[3:]  # well-formed
    assert spec_hash(plain) == spec_hash(
        ServiceSpec("db", "x", mounts=(parse_mount({"target": "/d", "source": "data"}, DIR),))
    )
    nocopy = ServiceSpec("db", "x", mounts=(Mount(V, "/d", "data", no_copy=True),))
    assert spec_hash(nocopy) != spec_hash(plain)


class _Api:
    def __init__(self, version: str) -> None:
        self.api_version = version


def _request(mount: Mount, version: str = "1.41") -> tuple[list[Any], list[str]]:
    desired = DesiredState("s", "dev", None, (ServiceSpec("web", "x", mounts=(mount,)),))
    return container_mounts(version, desired, desired.services[0], {})


def test_engine_request_mount_api() -> None:
    (volume,), binds = _request(Mount(V, "/d", "data", no_copy=True))
    assert binds == []
    assert volume["Source"] == "s-dev_data"
    assert volume["VolumeOptions"] == {"NoCopy": True}
    (tmpfs,), _ = _request(Mount(T, "/t", tmpfs_size=1024, tmpfs_mode=0o700))
    assert tmpfs["TmpfsOptions"] == {"SizeBytes": 1024, "Mode": 0o700}
    (bind,), _ = _request(Mount(B, "/c", "/h", True, propagation=Propagation.RSLAVE))
    assert (bind["Source"], bind["ReadOnly"], bind["BindOptions"]) == (
        "/h",
        True,
        {"Propagation": "rslave"},
    )


def test_selinux_and_create_host_path_go_as_binds() -> None:
    """Only the engine's Binds strings carry z/Z and create a missing host folder."""
    assert _request(Mount(B, "/c", "/h", True, selinux="z")) == ([], ["/h:/c:ro,z"])
    assert _request(Mount(B, "/c", "/h", create_host_path=True)) == ([], ["/h:/c:rw"])
    assert _request(Mount(V, "/d", "data", no_copy=True, selinux="Z")) == (
        [],
        ["s-dev_data:/d:rw,Z,nocopy"],
    )


def test_subpath_needs_api_1_45() -> None:
    mount = Mount(V, "/d", "data", subpath="a/b")
    with pytest.raises(EngineError) as caught:
        _request(mount, "1.41")
    assert "needs engine API 1.45" in caught.value.message
    assert "this engine speaks API 1.41" in caught.value.message
    (volume,), _ = _request(mount, "1.45")
    assert volume["VolumeOptions"] == {"Subpath": "a/b"}


@pytest.mark.parametrize(
    ("mount", "printed"),
    [
        (Mount(V, "/d", "data", True, no_copy=True, selinux="z"), "data:/d:ro,z,nocopy"),
        (Mount(B, "/c", "/h", propagation=Propagation.RSHARED, create_host_path=True),
         "/h:/c:rshared"),
        (Mount(B, "/c", "/h", propagation=Propagation.RSHARED),  # long: it creates no folder
         {"type": "bind", "target": "/c", "source": "/h", "bind": {"propagation": "rshared"}}),
        (Mount(V, "/anon", read_only=True), "/anon:ro"),
        (Mount(T, "/t", tmpfs_size=4096, tmpfs_mode=0o700),
         {"type": "tmpfs", "target": "/t", "tmpfs": {"size": 4096, "mode": 0o700}}),
        (Mount(B, "/c", "/h", create_host_path=True), "/h:/c"),
    ],
)  # fmt: skip
def test_config_prints_what_reads_back(mount: Mount, printed: Any) -> None:
    assert _mount(mount) == printed
    assert parse_mount(printed, DIR) == mount


def test_plan_shows_the_options_that_changed() -> None:
    from envkit.reconcile.spec_diff import mount_text

    assert mount_text(Mount(B, "/c", "/h", True, selinux="z")) == "bind /h:/c:ro,z"
    assert mount_text(Mount(V, "/d", "data", no_copy=True)) == "volume data:/d:nocopy"
    assert mount_text(Mount(T, "/t", tmpfs_size=1024, tmpfs_mode=0o700)) == (
        "tmpfs /t:size=1024,mode=0o700"
    )
    assert mount_text(Mount(V, "/anon")) == "volume (anonymous):/anon"


def test_an_anonymous_volume_keeps_nocopy() -> None:
    desired = DesiredState("s", "dev", None, (ServiceSpec("web", "x"),))
    spec = ServiceSpec("web", "x", mounts=(Mount(V, "/anon", no_copy=True),))
    (mount,), binds = container_mounts("1.41", desired, spec, {"/anon": ("web-1_anon", False)})
    assert (mount["Source"], mount["VolumeOptions"], binds) == ("web-1_anon", {"NoCopy": True}, [])


def test_a_swarm_service_gets_the_options_its_mount_can_say() -> None:
    from envkit.reconcile.swarm_spec import _mount as swarm_mount

    tmpfs = swarm_mount(None, Mount(T, "/t", tmpfs_size=1024, tmpfs_mode=0o700))  # type: ignore[arg-type]
    assert tmpfs == {
        "Type": "tmpfs",
        "Target": "/t",
        "TmpfsOptions": {"SizeBytes": 1024, "Mode": 0o700},
    }
    bind = swarm_mount(None, Mount(B, "/c", "/h", propagation=Propagation.RSLAVE))  # type: ignore[arg-type]
    assert bind["BindOptions"] == {"Propagation": "rslave"}
    plain = swarm_mount(None, Mount(B, "/c", "/h"))  # type: ignore[arg-type]
    assert plain == {"Type": "bind", "Source": "/h", "Target": "/c"}  # unchanged for old stacks

"""Missing bind sources: which the engine may create, which envkit refuses (a symlink or a
non-folder on the way), and what plan says about them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envkit.engine.base import BindSource
from envkit.engine.bindsources import missing_binds, probe_bind_source
from envkit.engine.fake import FakeEngine
from envkit.errors import Origin
from envkit.model import DesiredState, Mount, MountType, ServiceSpec
from envkit.reconcile.changes import Action
from envkit.reconcile.plan import plan


def test_an_existing_source_is_not_looked_at(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "link").symlink_to("/etc")
    for name in ("", "file", "fifo", "link"):
        assert probe_bind_source(str(tmp_path / name)) is None


def test_a_missing_folder_under_real_folders_is_creatable(tmp_path: Path) -> None:
    path = str(tmp_path / "a" / "b")
    assert probe_bind_source(path) == BindSource(path)


@pytest.mark.parametrize(
    ("make", "blocked"),
    [
        (lambda t: (t / "d").symlink_to(t / "real"), "{t}/d is a symbolic link"),  # dangling
        (lambda t: (t / "d").symlink_to("/etc"), "{t}/d is a symbolic link"),
        (lambda t: (t / "d").write_text("x"), "{t}/d is not a folder"),
        (lambda t: os.mkfifo(t / "d"), "{t}/d is not a folder"),
    ],
)
def test_a_symlink_or_a_special_file_on_the_way_blocks_it(
    tmp_path: Path, make: object, blocked: str
) -> None:
    make(tmp_path)  # type: ignore[operator]
    path = str(tmp_path / "d" / "sub" / "x")
    assert probe_bind_source(path) == BindSource(path, blocked.format(t=tmp_path))
    assert not Path("/etc/sub").exists()


def test_a_symlink_above_the_folder_blocks_it_too(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "project").symlink_to(tmp_path / "real")
    path = str(tmp_path / "project" / "data")
    assert probe_bind_source(path) == BindSource(path, f"{tmp_path}/project is a symbolic link")


def _service(*mounts: Mount) -> ServiceSpec:
    return ServiceSpec("web", "busybox", mounts=mounts, origin=Origin("compose.yaml", 3, 3))


def _plan(tmp_path: Path, spec: ServiceSpec) -> tuple[list[str], list[tuple[str, str, str | None]]]:
    desired = DesiredState("s", "dev", None, (spec,))
    engine = FakeEngine({"busybox": "sha256:1"})
    engine.bind_probe = probe_bind_source
    p = plan(desired, engine.observe(desired))
    reasons = [r for c in p.changes if c.action is Action.CREATE for r in c.reasons]
    return reasons, [(c.code, c.message, c.hint) for c in p.conflicts]


def test_plan_says_the_engine_creates_a_short_syntax_folder(tmp_path: Path) -> None:
    source = str(tmp_path / "data")
    bind = Mount(MountType.BIND, "/data", source, create_host_path=True)
    assert _plan(tmp_path, _service(bind)) == ([f"creates folder {source}"], [])


def test_a_long_syntax_bind_without_create_host_path_is_a_located_conflict(
    tmp_path: Path,
) -> None:
    source = str(tmp_path / "data")
    reasons, conflicts = _plan(tmp_path, _service(Mount(MountType.BIND, "/data", source)))
    assert reasons == []
    assert conflicts == [
        (
            "bind-source-missing",
            f"compose.yaml:3:3: services.web: the bind source {source} (at /data) does not exist",
            f"create it (mkdir -p {source}), or add 'bind: {{create_host_path: true}}' to the "
            "mount (the short syntax SOURCE:TARGET creates it)",
        )
    ]


def test_a_creation_through_a_symlink_is_a_conflict(tmp_path: Path) -> None:
    (tmp_path / "d").symlink_to("/etc")
    source = str(tmp_path / "d" / "cron.d" / "x")
    bind = Mount(MountType.BIND, "/data", source, create_host_path=True)
    reasons, [(code, message, hint)] = _plan(tmp_path, _service(bind))
    assert reasons == []
    assert code == "unsafe-bind-source"
    assert message.endswith(f"will not have the engine create it: {tmp_path}/d is a symbolic link")
    assert hint is not None and f"mkdir -p {source}" in hint


def test_a_remote_engine_is_not_probed() -> None:
    desired = DesiredState(
        "s", "dev", None, (_service(Mount(MountType.BIND, "/d", "/nowhere/at/all")),)
    )
    assert missing_binds(desired, None) == {}
    assert FakeEngine().observe(desired).missing_binds == {}

"""The private state folder: locks, watchdog logs and the validation memo cannot be turned
against the user by another local user (planted symlinks, foreign folders, held locks).

These tests run as root (as the project's CI does) and use ``os.chown`` to play the other
user."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envkit.reconcile.lock import instance_lock, lock_path
from envkit.stackfile import schema
from envkit.statedir import UnsafeStateDir, base_dir, open_private, private_dir
from envkit.watchdog import log_dir

ENGINE = "unix:///run/docker.sock"  # an engine identity (the lock key)
OTHER_UID = 54321


def env_of(state: Path) -> dict[str, str]:
    return {"ENVKIT_STATE_DIR": str(state), "DOCKER_HOST": "unix:///var/run/docker.sock"}


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder under /tmp that another uid can reach (pytest's tmp_path is 0700 root)."""
    path = Path(tempfile.mkdtemp(prefix="envkit-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_the_folder_is_made_private(state: Path) -> None:
    made = private_dir("locks", environ=env_of(state))
    assert made == state / "locks"
    for folder in (state, state / "locks"):
        info = folder.stat()
        assert stat.S_IMODE(info.st_mode) == 0o700 and info.st_uid == os.geteuid()


def test_the_default_is_under_home_never_tmp(tmp_path: Path) -> None:
    assert base_dir({"HOME": str(tmp_path)}) == tmp_path / ".local" / "state" / "envkit"
    assert base_dir({"HOME": "/h", "XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "envkit"
    with pytest.raises(UnsafeStateDir, match="HOME is not set"):
        base_dir({"HOME": "relative"})


def test_a_planted_symlink_at_the_lock_path_is_not_followed(state: Path, tmp_path: Path) -> None:
    env = env_of(state)
    private_dir("locks", environ=env)
    victim = tmp_path / "shadow"
    victim.write_text("root:secret-hash:19000:0:99999:7:::\n")
    victim.chmod(0o600)
    os.symlink(victim, lock_path("shop-dev", engine_id=ENGINE, environment=env))
    with (
        pytest.raises(UnsafeStateDir) as info,
        instance_lock("shop-dev", engine_id=ENGINE, environment=env),
    ):
        pass
    assert info.value.code == "unsafe-state-dir"
    assert "a symbolic link" in info.value.message and info.value.hint
    assert victim.read_text() == "root:secret-hash:19000:0:99999:7:::\n"
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600


def test_a_fifo_at_a_private_path_is_refused(state: Path) -> None:
    folder = private_dir("watchdog", environ=env_of(state))
    os.mkfifo(folder / "x.log")
    with pytest.raises(UnsafeStateDir, match="not a regular file"):
        open_private(folder / "x.log", os.O_WRONLY | os.O_APPEND)  # would block


@pytest.mark.parametrize("sub", [None, "locks"])
def test_a_folder_owned_by_someone_else_is_refused(state: Path, sub: str | None) -> None:
    target = state if sub is None else state / sub
    target.mkdir(parents=True, mode=0o700)
    os.chown(target, OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafeStateDir) as info:
        private_dir("locks", environ=env_of(state))
    assert f"owned by uid {OTHER_UID}" in info.value.message and str(target) in info.value.message
    with (
        pytest.raises(UnsafeStateDir),
        instance_lock("shop-dev", engine_id=ENGINE, environment=env_of(state)),
    ):
        pass


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o1777, 0o722])
def test_a_folder_writable_by_others_is_refused(state: Path, mode: int) -> None:
    state.mkdir()
    state.chmod(mode)
    with pytest.raises(UnsafeStateDir, match="writable by other users") as info:
        private_dir(environ=env_of(state))
    assert info.value.hint == f"chmod 700 {state}"


def test_tmp_itself_is_refused() -> None:
    with pytest.raises(UnsafeStateDir, match="writable by other users"):
        private_dir(environ={"ENVKIT_STATE_DIR": "/tmp"})


def test_a_folder_above_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, OTHER_UID, OTHER_UID)  # e.g. sudo kept the invoking user's HOME
    with pytest.raises(UnsafeStateDir, match="above the state folder") as info:
        private_dir("locks", environ={"HOME": str(home)})
    assert str(home) in info.value.message
    assert not (home / ".local").exists()


def test_a_symlinked_state_folder_resolves_and_is_checked(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    (tmp_path / "link").symlink_to(real)
    assert private_dir("cache", environ=env_of(tmp_path / "link")) == real / "cache"
    real.chmod(0o777)
    with pytest.raises(UnsafeStateDir):
        private_dir("cache", environ=env_of(tmp_path / "link"))


def test_the_lock_file_holds_only_a_pid_and_a_time(state: Path, monkeypatch: Any) -> None:
    env = env_of(state)
    monkeypatch.setattr(sys, "argv", ["envkit", "up", "--var", "password=hunter2"])
    path = lock_path("shop-dev", engine_id=ENGINE, environment=env)
    private_dir("locks", environ=env)
    path.write_text("x" * 5000)  # a stale long holder: not truncated on open, only after
    with instance_lock("shop-dev", engine_id=ENGINE, environment=env):
        info = json.loads(path.read_text())
        assert set(info) == {"pid", "since"} and info["pid"] == os.getpid()
    assert "hunter2" not in path.read_text()
    with instance_lock("shop-test", engine_id=ENGINE, environment=env):
        made = lock_path("shop-test", engine_id=ENGINE, environment=env)
        assert stat.S_IMODE(made.stat().st_mode) == 0o600


def test_the_watchdog_log_folder_is_the_private_one(state: Path) -> None:
    assert log_dir(env_of(state)) == state / "watchdog"
    state.chmod(0o777)
    with pytest.raises(UnsafeStateDir):
        log_dir(env_of(state))


def test_another_users_held_lock_cannot_block_us(shared_tmp: Path, tmp_path: Path) -> None:
    """Another user, with their own HOME, holds the lock of the same instance on the same
    engine for ever: our lock is still free at once (it used to be one shared file)."""
    their_home = shared_tmp / "mallory"
    their_home.mkdir()
    os.chown(their_home, OTHER_UID, OTHER_UID)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the other user: no exec (the interpreter may not be readable by them)
        status = 1
        try:
            os.close(read_end)
            os.setgroups([])
            os.setgid(OTHER_UID)
            os.setuid(OTHER_UID)
            with instance_lock("shop-dev", engine_id=ENGINE, environment={"HOME": str(their_home)}):
                os.write(write_end, b"held\n")
                time.sleep(60)
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    try:
        assert os.read(read_end, 16) == b"held\n"
        t0 = time.monotonic()
        with instance_lock(
            "shop-dev", engine_id=ENGINE, timeout_s=0, environment={"HOME": str(tmp_path)}
        ):
            pass
        assert time.monotonic() - t0 < 2
    finally:
        os.close(read_end)
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def test_a_planted_memo_is_ignored(tmp_path: Path, monkeypatch: Any) -> None:
    """Another user's folder with a memo that says an invalid tree is valid: not trusted."""
    bad: dict[str, Any] = {"stack": "shop", "services": {"db": {"image": 5}}}
    secret = b"k" * 32
    import hashlib
    import hmac

    text = json.dumps([schema._schema_text(), bad], sort_keys=True, separators=(",", ":"))
    digest = hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    (cache / "memo.key").write_bytes(secret)
    (cache / "valid-trees").write_text(digest + "\n")
    for path in (tmp_path, cache, cache / "memo.key", cache / "valid-trees"):
        os.chown(path, OTHER_UID, OTHER_UID)
    monkeypatch.setenv("ENVKIT_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("ENVKIT_NO_CACHE", raising=False)

    class Nowhere:
        def origin(self, path: Any) -> None:
            return None

        def key_origin(self, path: Any) -> None:
            return None

    assert schema.validate_tree(bad, Nowhere()) != []


def test_a_planted_memo_file_of_another_owner_in_our_folder_is_ignored(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("ENVKIT_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("ENVKIT_NO_CACHE", raising=False)
    cache = private_dir("cache")
    (cache / "memo.key").write_bytes(b"k" * 32)
    os.chown(cache / "memo.key", OTHER_UID, OTHER_UID)
    assert schema._ValidMemo.open() is None

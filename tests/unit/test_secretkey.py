"""envkit's secret key: ENVKIT_SECRET_KEY, else a private per-user key file made on first use."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from envkit.errors import UnsafeStateDir
from envkit.model import DesiredState, ServiceSpec
from envkit.secretkey import ENV_VAR, SecretKeyError, key_path, load_key, with_secret_key

SHARED = "0123456789abcdef0123456789abcdef-shared"


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"ENVKIT_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path), **extra}


def test_the_key_file_is_made_once_private_and_reused(tmp_path: Path) -> None:
    e = env(tmp_path)
    first = load_key(e)
    path = key_path(e)
    assert path == tmp_path / "state" / "secret.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_key(e) == first
    assert len(path.read_text().strip()) == 64
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no temporary left


def test_the_key_files_content_is_a_valid_shared_key(tmp_path: Path) -> None:
    e = env(tmp_path)
    made = load_key(e)
    other = env(tmp_path / "elsewhere", **{ENV_VAR: key_path(e).read_text()})
    assert load_key(other) == made
    assert not key_path(other).exists()  # a shared key makes no file


def test_a_shared_key_too_short_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError, match="too short") as err:
        load_key(env(tmp_path, **{ENV_VAR: "123456"}))
    assert "123456" not in str(err.value.message)


def test_default_folder_is_under_home(tmp_path: Path) -> None:
    assert key_path({"HOME": str(tmp_path)}) == tmp_path / ".local/state/envkit/secret.key"


@pytest.mark.parametrize("kind", ["symlink", "fifo", "readable"])
def test_an_unsafe_key_file_is_refused(tmp_path: Path, kind: str) -> None:
    e = env(tmp_path)
    path = key_path(e)
    path.parent.mkdir(mode=0o700)
    if kind == "symlink":
        target = tmp_path / "planted"
        target.write_text("x" * 64)
        path.symlink_to(target)
    elif kind == "fifo":
        os.mkfifo(path, 0o600)  # would block a reader for ever
    else:
        path.write_text("y" * 64)
        path.chmod(0o644)
    with pytest.raises(SecretKeyError) as err:
        load_key(e)
    assert str(path) in err.value.message and err.value.hint


def test_a_state_folder_writable_by_others_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(UnsafeStateDir, match="is writable by other users"):
        load_key(env(tmp_path))


def test_concurrent_first_use_agrees_on_one_key(tmp_path: Path) -> None:
    e = env(tmp_path)
    keys: list[object] = []
    threads = [threading.Thread(target=lambda: keys.append(load_key(e))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(keys) == 8 and len(set(keys)) == 1  # type: ignore[arg-type]


def test_a_stack_without_secrets_needs_no_key(tmp_path: Path) -> None:
    plain = DesiredState("s", "e", None, (ServiceSpec("a", "a:1"),))
    assert with_secret_key(plain, env(tmp_path)) is plain
    assert not (tmp_path / "state").exists()
    secret = DesiredState("s", "e", None, plain.services, sensitive_values=frozenset({"pw"}))
    assert with_secret_key(secret, env(tmp_path)).secret_key == load_key(env(tmp_path))

"""The per-instance lock: a second holder says whom it waits for, then times out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from envkit.engine.factory import engine_from_env
from envkit.errors import LockTimeout
from envkit.reconcile.lock import instance_lock, lock_path

ENGINE = engine_from_env({}).identity  # the default socket


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"ENVKIT_STATE_DIR": str(tmp_path)}


def test_second_holder_waits_then_times_out(env: dict[str, str]) -> None:
    said: list[str] = []
    with instance_lock("shop-dev", timeout_s=1, engine_id=ENGINE, environment=env):
        t0 = time.monotonic()
        with (
            pytest.raises(LockTimeout) as info,
            instance_lock(
                "shop-dev", timeout_s=0.5, on_wait=said.append, engine_id=ENGINE, environment=env
            ),
        ):
            pass
        assert 0.5 <= time.monotonic() - t0 < 3
    assert said == [f"waiting for another envkit (pid {os.getpid()}) holding the lock on shop-dev"]
    assert f"pid {os.getpid()}" in info.value.message and "shop-dev" in info.value.message
    assert info.value.code == "locked"


def test_waiter_gets_the_lock_when_released(env: dict[str, str]) -> None:
    order: list[str] = []
    held = threading.Event()

    def first() -> None:
        with instance_lock("shop-dev", engine_id=ENGINE, environment=env):
            held.set()
            time.sleep(0.4)
            order.append("first done")

    thread = threading.Thread(target=first)
    thread.start()
    held.wait(5)
    said: list[str] = []
    with instance_lock(
        "shop-dev", timeout_s=5, on_wait=said.append, engine_id=ENGINE, environment=env
    ):
        order.append("second in")
    thread.join()
    assert order == ["first done", "second in"] and len(said) == 1


def test_locks_are_per_project_and_per_engine(env: dict[str, str]) -> None:
    other = engine_from_env({"DOCKER_HOST": "tcp://10.0.0.1:2375"}).identity
    here = lock_path("shop-dev", engine_id=ENGINE, environment=env)
    assert here != lock_path("shop-dev", engine_id=other, environment=env)
    with (
        instance_lock("shop-dev", timeout_s=0, engine_id=ENGINE, environment=env),
        instance_lock("shop-test", timeout_s=0, engine_id=ENGINE, environment=env),
        instance_lock("shop-dev", timeout_s=0, engine_id=other, environment=env),
    ):
        pass


def test_every_spelling_of_one_engine_takes_one_lock(env: dict[str, str]) -> None:
    for host in (
        "unix:///var/run/docker.sock",
        "unix://var/run/docker.sock",
        "/var/run/docker.sock",
    ):
        same = engine_from_env({"DOCKER_HOST": host}).identity
        assert same == ENGINE
        with (
            instance_lock("shop-dev", timeout_s=0, engine_id=ENGINE, environment=env),
            pytest.raises(LockTimeout),
            instance_lock("shop-dev", timeout_s=0, engine_id=same, environment=env),
        ):
            pass


def test_kill_9_releases_the_lock(env: dict[str, str]) -> None:
    code = (
        "import sys, time\n"
        "from envkit.reconcile.lock import instance_lock\n"
        f"with instance_lock('shop-dev', engine_id={ENGINE!r}, environment={env!r}):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=root
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        said: list[str] = []
        with (
            pytest.raises(LockTimeout),
            instance_lock(
                "shop-dev", timeout_s=0.2, on_wait=said.append, engine_id=ENGINE, environment=env
            ),
        ):
            pass
        assert f"pid {proc.pid}" in said[0]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    with instance_lock("shop-dev", timeout_s=2, engine_id=ENGINE, environment=env):
        pass

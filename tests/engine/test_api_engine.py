"""The Python API against the real engine: up, a reachable port, logs, status, ephemeral.

Each test writes its own stack (``a<8 hex>``); everything labelled with it is removed
afterwards, even when the test fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import envkit
from envkit.model import LABEL

from .conftest import IMAGE
from .instance_checks import gone, remains, remove_stack, wait_until, web_stack

pytestmark = pytest.mark.engine


@pytest.fixture
def stack_file(docker_client: Any, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    name = f"a{uuid.uuid4().hex[:8]}"
    path = tmp_path / "envkit.yaml"
    path.write_text(web_stack(name, IMAGE, f"banner-{name}"))
    try:
        yield path, name
    finally:
        remove_stack(docker_client, name)


def connect(host: str, port: int) -> bytes:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return s.recv(4096)


def test_up_port_is_reachable_logs_status_and_down(
    stack_file: tuple[Path, str], docker_client: Any
) -> None:
    path, name = stack_file
    stack = envkit.load(path)
    env = stack.up("ci", instance="one", ttl="10m")
    try:
        host, port = env.port("web", 8000)
        assert host == "127.0.0.1" and port > 0
        assert connect(host, port).startswith(b"HTTP/1.")
        assert env.url("web", "8000/tcp") == f"http://127.0.0.1:{port}"
        assert f"banner-{name}" in env.logs("web")
        status = env.status()
        assert status["services"]["web"]["health"] == "healthy"
        assert status["services"]["web"]["ports"] == {"8000/tcp": f"127.0.0.1:{port}"}
        labels = docker_client.containers.get(f"{name}-ci-one-web-1").labels
        assert labels[LABEL.EXPIRES] == env.expires
    finally:
        env.down(volumes=True)
    assert remains(docker_client, env.project) == []


def test_ephemeral_instances_side_by_side_and_torn_down_after_an_exception(
    stack_file: tuple[Path, str], docker_client: Any
) -> None:
    path, _ = stack_file
    stack = envkit.load(path)
    with pytest.raises(RuntimeError, match="boom"), stack.ephemeral("ci", ttl="10m") as one:
        with stack.ephemeral("ci", ttl="10m") as two:
            assert one.project != two.project
            assert one.port("web", 8000) != two.port("web", 8000)
            assert connect(*two.port("web", 8000)).startswith(b"HTTP/1.")
            dog = one.watchdog
            assert dog is not None and dog.alive()
        assert remains(docker_client, two.project) == []
        assert connect(*one.port("web", 8000)).startswith(b"HTTP/1.")
        raise RuntimeError("boom")
    assert remains(docker_client, one.project) == []
    assert one.watchdog is None and not dog.alive()  # stood down after the teardown
    assert not dog.log_path.exists()  # it did nothing: no log kept


SCRIPT = """\
import sys, time, envkit
stack = envkit.load(sys.argv[1])
env = stack.up("ci", instance="w1", ttl="10m", watchdog=True)
print(env.project, env.watchdog.pid, flush=True)
if sys.argv[2] == "sleep":
    time.sleep(600)
"""


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_watchdog_removes_an_instance_its_process_left(
    stack_file: tuple[Path, str], docker_client: Any, tmp_path: Path, ending: str
) -> None:
    """up(watchdog=True) without down(): the instance goes when the process exits, and
    when it is SIGKILLed."""
    path, name = stack_file
    env = dict(os.environ, ENVKIT_STATE_DIR=str(tmp_path / "state"))
    mode = "sleep" if ending == "sigkill" else "exit"
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(path), mode],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        project, pid = proc.stdout.readline().split()
        assert project == f"{name}-ci-w1"
        if ending == "sigkill":
            assert remains(docker_client, project)
            proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert wait_until(lambda: remains(docker_client, project) == [], 20)
    assert wait_until(lambda: gone(int(pid)), 20)
    (log,) = (tmp_path / "state" / "watchdog").glob(f"{project}.*.log")
    assert f"removed {project}: 1 container(s), 1 network(s), 2 volume(s)" in log.read_text()

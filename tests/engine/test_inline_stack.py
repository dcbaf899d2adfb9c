"""The single-service case in one file, on the real engine: an inline MariaDB stack,
``exec`` and a connection URL (the README's example), and the pytest fixture taking the
stack inline. Everything is removed by its stack label afterwards, even on failure."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import envkit

from .cleanup import remove_labelled
from .conftest import IMAGE

MARIADB = "envkit/mariadb:latest"


@pytest.fixture
def name(docker_client: Any) -> Iterator[str]:
    stack = f"t{uuid.uuid4().hex[:8]}"
    try:
        yield stack
    finally:
        remove_labelled(docker_client, f"io.envkit.stack={stack}")


def test_an_inline_mariadb_with_exec_and_a_url(name: str) -> None:
    stack = envkit.from_dict(
        {
            "stack": name,
            "environments": {"test": {}},
            "services": {
                "db": {
                    "image": MARIADB,
                    "environment": {"MARIADB_ROOT_PASSWORD": "s3cret@pw"},
                    "ports": ["127.0.0.1::3306"],
                    "healthcheck": {
                        "test": ["CMD", "mysqladmin", "ping", "--silent"],
                        "interval": "1s",
                        "retries": 60,
                    },
                }
            },
        }
    )
    with stack.ephemeral("test", ttl="10m") as db:
        code, out = db.exec("db", ["mysql", "-uroot", "-ps3cret@pw", "-Nse", "select 6*7"])
        assert (code, out.strip()) == (0, "42")
        failed, _ = db.exec("db", "exit 3")
        assert failed == 3
        url = db.url("db", 3306, scheme="mysql", user="root", password="s3cret@pw", path="x")
        host, port = db.port("db", 3306)
        assert url == f"mysql://root:s3cret%40pw@{host}:{port}/x"
        assert "s3cret" not in repr(url)
        with socket.create_connection((host, port), timeout=5) as conn:
            assert conn.recv(1)  # the server greets


def test_the_pytest_fixture_takes_the_stack_inline(name: str, tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(
        textwrap.dedent(
            f"""
            from envkit.pytest_plugin import envkit_fixture

            STACK = '''
            stack: {name}
            environments: {{test: {{}}}}
            services:
              app:
                image: {IMAGE}
                command: [sh, -c, "echo booting; echo ready; sleep 3600"]
                init: true
                stop_grace_period: 1s
            '''
            app = envkit_fixture("test", stack=STACK, ttl="10m")
            """
        )
    )
    (tmp_path / "test_app.py").write_text(
        "def test_exec(app):\n"
        "    assert app.exec('app', 'echo hi') == (0, 'hi\\n')\n"
        "def test_fails(app):\n"
        "    assert False, 'deliberately'\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 failed, 1 passed" in run.stdout
    assert f"envkit logs: {name}-test-" in run.stdout
    assert "last 20 lines" in run.stdout and "ready" in run.stdout

"""The real demo: stacks/databases.yaml (MariaDB built by scripts/build-mariadb-image.sh),
dev/test/release side by side. A copy of the stack under a unique name, on free ports of
127.0.0.1 (--var db_port=...), so CI never collides with a developer's 3306-3308.

Write a row into dev; change dev's configuration (its container is recreated): the row is
still there and test/release are untouched; `down dev` keeps the row; `down dev --volumes`
removes it."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envkit.model import LABEL

from .cleanup import remove_labelled
from .images_support import envkit, free_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "devpassword"  # the stack's default when DB_ROOT_PASSWORD is not set


@pytest.fixture(scope="session")
def mariadb_image(docker_client: Any) -> str:
    """envkit/mariadb:latest, built when missing or stale (about 70 s the first time)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "build-mariadb-image.sh")], check=True)
    return "envkit/mariadb:latest"


@pytest.fixture
def demo(mariadb_image: str, tmp_path: Path, docker_client: Any) -> Iterator[Path]:
    name = f"t{uuid.uuid4().hex[:8]}"
    shutil.copytree(ROOT / "stacks" / "databases", tmp_path / "databases")
    text = (ROOT / "stacks" / "databases.yaml").read_text()
    assert "\nstack: databases\n" in text
    path = tmp_path / "databases.yaml"
    path.write_text(text.replace("\nstack: databases\n", f"\nstack: {name}\n"))
    yield path
    remove_labelled(docker_client, f"{LABEL.STACK}={name}")


def _connect(port: int, timeout_s: float = 60) -> Any:
    import pymysql

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return pymysql.connect(
                host="127.0.0.1", port=port, user="root", password=PASSWORD, autocommit=True
            )
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _rows(port: int) -> list[tuple[Any, ...]] | None:
    """The demo table's rows, or None when the table does not exist."""
    conn = _connect(port)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.tables "
                "WHERE table_schema='demo' AND table_name='notes'"
            )
            if cur.fetchone()[0] == 0:
                return None
            cur.execute("SELECT id, body FROM demo.notes ORDER BY id")
            return list(cur.fetchall())
    finally:
        conn.close()


def test_three_databases_side_by_side(
    demo: Path, docker_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = str(demo)
    ports = {env: free_port() for env in ("dev", "test", "release")}

    def run(*args: str, env: str) -> None:
        result = envkit("-f", f, *args, env, "--var", f"db_port={ports[env]}")
        assert result.code == 0, result.err

    def container_id(env: str) -> str:
        found = docker_client.containers.list(
            all=True, filters={"label": f"{LABEL.PROJECT}={demo_stack()}-{env}"}
        )
        assert len(found) == 1
        return str(found[0].id)

    def demo_stack() -> str:
        return demo.read_text().split("\nstack: ", 1)[1].split("\n", 1)[0]

    for env in ports:
        run("up", "--wait", env=env)
    ids = {env: container_id(env) for env in ports}
    # The healthcheck pings over the socket as root (no password): a few probes in, the
    # server log holds no "Access denied" for users to wade through in `logs`.
    time.sleep(4)
    logs = docker_client.containers.get(ids["test"]).logs().decode(errors="replace")
    assert "ready for connections" in logs
    assert "Access denied" not in logs

    conn = _connect(ports["dev"])
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE demo")
        cur.execute("CREATE TABLE demo.notes (id INT PRIMARY KEY, body TEXT)")
        cur.execute("INSERT INTO demo.notes VALUES (1, 'kept across recreate')")
    conn.close()
    assert _rows(ports["test"]) is None  # each environment has its own data

    # dev's configuration changes: only dev's container is recreated
    text = demo.read_text()
    marker = "  dev:\n    description: a developer's database\n"
    assert marker in text
    demo.write_text(
        text.replace(marker, marker + "    services: {db: {labels: {demo.changed: 'yes'}}}\n")
    )
    plan = envkit("-f", f, "plan", "dev", "--var", f"db_port={ports['dev']}")
    assert plan.code == 0 and "labels" in plan.out, plan.out + plan.err
    run("up", "--wait", env="dev")
    assert container_id("dev") != ids["dev"]
    assert _rows(ports["dev"]) == [(1, "kept across recreate")]
    for env in ("test", "release"):
        assert container_id(env) == ids[env]
        check = envkit(
            "-f", f, "plan", env, "--var", f"db_port={ports[env]}", "--detailed-exitcode"
        )
        assert check.code == 0, check.out

    # A new root password for test: the server reads it only when it initialises an empty
    # volume, so the plan warns (naming the variables, never the value) and, indeed, after
    # the recreate the old password still works and the new one does not.
    monkeypatch.setenv("DB_ROOT_PASSWORD", "s3cret-new")
    plan = envkit("-f", f, "plan", "test", "--var", f"db_port={ports['test']}")
    assert plan.code == 0, plan.err
    assert (
        "warning[init-env-changed]: service db: environment MARIADB_ROOT_PASSWORD, "
        f"MYSQL_ROOT_PASSWORD change, but its volume {demo_stack()}-test_data already exists"
    ) in plan.out
    assert "s3cret-new" not in plan.out + plan.err
    run("up", "--wait", env="test")
    assert container_id("test") != ids["test"]
    _connect(ports["test"]).close()  # the old password
    import pymysql

    with pytest.raises(pymysql.err.OperationalError):
        pymysql.connect(host="127.0.0.1", port=ports["test"], user="root", password="s3cret-new")
    monkeypatch.delenv("DB_ROOT_PASSWORD")

    # down keeps the named volume; down --volumes removes it
    run("down", env="dev")
    run("up", "--wait", env="dev")
    assert _rows(ports["dev"]) == [(1, "kept across recreate")]
    run("down", "--volumes", env="dev")
    run("up", "--wait", env="dev")
    assert _rows(ports["dev"]) is None

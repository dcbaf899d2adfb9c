"""An unchanged Compose file through plan, up and down on the real engine (no -f, no ENV)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envkit.model import LABEL

from .cleanup import remove_labelled
from .conftest import IMAGE, OWNER
from .images_support import envkit

pytestmark = pytest.mark.engine

COMPOSE = f"""\
version: "3.8"
services:
  web:
    image: {IMAGE}
    command: [httpd, -f, -p, "80", -h, /]
    init: true
    stop_grace_period: 1s
    labels:
      traefik.rule: "Host(`{{{{ .Name }}}}`)"
    depends_on: [db]
  db:
    image: {IMAGE}
    command: [sleep, "3600"]
    init: true
    stop_grace_period: 1s
    x-note: ignored
"""


@pytest.fixture
def folder(docker_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder named like a unique stack (``T<8 hex>``: the name comes from it), as cwd."""
    name = f"T{uuid.uuid4().hex[:8]}"
    path = tmp_path / name
    path.mkdir()
    monkeypatch.chdir(path)
    monkeypatch.delenv("ENVKIT_FILE", raising=False)
    try:
        yield path
    finally:
        remove_labelled(docker_client, f"{LABEL.STACK}={name.lower()}")


def test_an_unchanged_compose_file_goes_up_and_down(folder: Path, docker_client: Any) -> None:
    (folder / "compose.yaml").write_text(COMPOSE)
    stack = folder.name.lower()
    project = f"{stack}-default"
    ran = envkit("--debug", "up")
    assert ran.code == 0, ran.err
    assert "default lookup" in ran.err and "compose.yaml" in ran.err
    listed = docker_client.containers.list(filters={"label": f"{LABEL.PROJECT}={project}"})
    assert sorted(c.name for c in listed) == [f"{project}-db-1", f"{project}-web-1"]
    web = docker_client.containers.get(f"{project}-web-1")
    assert web.labels["traefik.rule"] == "Host(`{{ .Name }}`)"
    assert web.labels[LABEL.STACK] == stack
    # Converged: a second plan has nothing to do.
    assert envkit("plan", "--detailed-exitcode").code == 0
    down = envkit("down")
    assert down.code == 0, down.err
    assert (
        docker_client.containers.list(all=True, filters={"label": f"{LABEL.PROJECT}={project}"})
        == []
    )


def test_an_external_volume_is_mounted_under_its_name(folder: Path, docker_client: Any) -> None:
    """Compose's `name:` on an external volume is the engine's name (it was ignored)."""
    stack = folder.name.lower()
    volume = docker_client.volumes.create(f"{stack}-shared", labels={OWNER: stack})
    try:
        (folder / "compose.yaml").write_text(
            f"services:\n  app:\n    image: {IMAGE}\n    command: [sleep, '3600']\n"
            "    init: true\n    volumes: ['data:/data']\n"
            f"volumes:\n  data: {{external: true, name: {stack}-shared}}\n"
        )
        ran = envkit("up")
        assert ran.code == 0, ran.err
        app = docker_client.containers.get(f"{stack}-default-app-1")
        assert [(m["Name"], m["Destination"]) for m in app.attrs["Mounts"]] == [
            (f"{stack}-shared", "/data")
        ]
        assert envkit("down", "--volumes").code == 0
        docker_client.volumes.get(f"{stack}-shared")  # external: never removed
    finally:
        remove_labelled(docker_client, f"{LABEL.STACK}={stack}")
        volume.remove(force=True)


def test_container_name_and_expose(folder: Path, docker_client: Any) -> None:
    stack = folder.name.lower()
    fixed = f"{stack}-fixed"
    compose = (
        f"services:\n  app:\n    image: {IMAGE}\n    command: [sleep, '3600']\n"
        f"    init: true\n    stop_grace_period: 1s\n    container_name: {fixed}\n"
        "    expose: [80, '53/udp']\n    environment: {{X: '{x}'}}\n"
    )
    (folder / "compose.yaml").write_text(compose.format(x="1"))
    ran = envkit("up")
    assert ran.code == 0, ran.err
    app = docker_client.containers.get(fixed)
    assert set(app.attrs["Config"]["ExposedPorts"]) == {"80/tcp", "53/udp"}
    assert app.labels[LABEL.PROJECT] == f"{stack}-default"
    (folder / "compose.yaml").write_text(compose.format(x="2"))
    assert envkit("up").code == 0  # recreated under the same fixed name
    assert docker_client.containers.get(fixed).id != app.id
    assert envkit("plan", "--detailed-exitcode").code == 0
    refused = envkit("up", "--ephemeral")
    assert refused.code == 2
    assert "error[container-name-instance]" in refused.err
    assert envkit("down").code == 0
    assert docker_client.containers.list(all=True, filters={"name": fixed}) == []


def test_a_secret_file_is_mounted_read_only_and_its_change_recreates(
    folder: Path, docker_client: Any
) -> None:
    stack = folder.name.lower()
    (folder / "pw.txt").write_text("s3cret-one")
    (folder / "compose.yaml").write_text(
        f"services:\n  app:\n    image: {IMAGE}\n    command: [sleep, '3600']\n"
        "    init: true\n    stop_grace_period: 1s\n    secrets: [db-password]\n"
        "secrets:\n  db-password: {file: ./pw.txt}\n"
    )
    assert envkit("up").code == 0
    app = docker_client.containers.get(f"{stack}-default-app-1")
    read = app.exec_run(["cat", "/run/secrets/db-password"]).output.decode()
    assert read == "s3cret-one"
    assert app.exec_run(["sh", "-c", "echo x > /run/secrets/db-password"]).exit_code != 0
    (folder / "pw.txt").write_text("s3cret-two")
    planned = envkit("plan")
    assert "file_digests" in planned.out and "s3cret" not in planned.out + planned.err
    assert envkit("up").code == 0
    app = docker_client.containers.get(f"{stack}-default-app-1")
    assert app.exec_run(["cat", "/run/secrets/db-password"]).output.decode() == "s3cret-two"
    assert "s3cret" not in str(app.labels)
    assert envkit("down").code == 0


def test_volumes_from_shares_a_services_volumes(folder: Path, docker_client: Any) -> None:
    stack = folder.name.lower()
    (folder / "compose.yaml").write_text(
        f"services:\n  db:\n    image: {IMAGE}\n    init: true\n"
        "    command: [sh, -c, 'echo shared > /data/f; sleep 3600']\n    volumes: [/data]\n"
        f"  backup:\n    image: {IMAGE}\n    init: true\n    command: [sleep, '3600']\n"
        "    volumes_from: ['db:ro']\n"
    )
    assert envkit("up").code == 0
    backup = docker_client.containers.get(f"{stack}-default-backup-1")
    for _ in range(50):  # db writes the file as it starts
        if backup.exec_run(["cat", "/data/f"]).exit_code == 0:
            break
        time.sleep(0.1)
    assert backup.exec_run(["cat", "/data/f"]).output.decode().strip() == "shared"
    assert backup.exec_run(["sh", "-c", "echo x > /data/g"]).exit_code != 0  # :ro
    assert envkit("down", "--volumes").code == 0


def test_the_compose_app_example_runs_as_a_throwaway_instance(docker_client: Any) -> None:
    """stacks/compose-app: an envkit.yaml adding environments to an unchanged compose.yaml."""
    stack = Path(__file__).resolve().parents[2] / "stacks" / "compose-app" / "envkit.yaml"
    ran = envkit("-f", str(stack), "up", "ci", "--ephemeral", "--wait", "--timeout", "60", "--json")
    status = json.loads(ran.out) if ran.out.strip().startswith("{") else {}
    project = status.get("project")
    try:
        assert ran.code == 0, ran.err
        web = docker_client.containers.get(f"{project}-web-1")
        assert web.attrs["State"]["Health"]["Status"] == "healthy"
        assert web.labels["traefik.http.routers.web.rule"] == "Host(`{{ .Name }}.localhost`)"
        assert web.exec_run(["wget", "-q", "-O", "-", "http://127.0.0.1:8000/"]).output == (
            b"hello\n"
        )
    finally:
        if project:
            remove_labelled(docker_client, f"{LABEL.PROJECT}={project}")

"""Compose's data safety on the real engine: anonymous volumes survive a recreate.

An image that declares ``VOLUME /var/lib/app`` (built here FROM the local busybox test
image) and a bare ``/data`` entry: a file written in each survives a change of one
environment variable, as with docker-compose 1.29.2 (the oracle, run on the same file);
``up -V`` renews them; ``down`` keeps them (labelled) and ``down --volumes`` removes them.
"""

from __future__ import annotations

import io
import subprocess
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


@pytest.fixture
def app(docker_client: Any, tmp_path: Path) -> Iterator[tuple[Path, str, str]]:
    """(compose.yaml, stack name, image): a unique folder, stack and VOLUME image."""
    name = f"t{uuid.uuid4().hex[:8]}"
    image = f"envkit-test/volume-{name}:latest"
    docker_client.images.build(
        fileobj=io.BytesIO(f"FROM {IMAGE}\nVOLUME /var/lib/app\n".encode()),
        tag=image,
        labels={OWNER: name},
        rm=True,
    )
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "compose.yaml"
    try:
        yield path, name, image
    finally:
        if path.exists():  # docker-compose's own anonymous volumes carry no label
            subprocess.run(
                ["docker-compose", "-p", name, "-f", str(path), "down", "-v"],
                capture_output=True,
                check=False,
            )
        remove_labelled(
            docker_client, f"{LABEL.STACK}={name}", f"com.docker.compose.project={name}"
        )
        for volume in docker_client.volumes.list(filters={"label": f"{LABEL.STACK}={name}"}):
            volume.remove(force=True)
        docker_client.images.remove(image, force=True)


def write(path: Path, image: str, value: str) -> None:
    path.write_text(
        f"services:\n  app:\n    image: {image}\n    command: [sleep, '3600']\n"
        f"    init: true\n    stop_grace_period: 1s\n    environment: {{X: '{value}'}}\n"
        "    volumes: [/data]\n"
    )


def exec_in(client: Any, container: str, command: str) -> str:
    result = client.containers.get(container).exec_run(["sh", "-c", command])
    return str(result.output.decode().strip())


CHECK = "cat /var/lib/app/f /data/f 2>/dev/null || echo missing"


def test_anonymous_volumes_survive_a_recreate_like_compose(
    app: tuple[Path, str, str], docker_client: Any
) -> None:
    path, name, image = app
    container = f"{name}-default-app-1"
    f = ("-f", str(path))
    write(path, image, "1")
    assert envkit(*f, "up").code == 0
    exec_in(docker_client, container, "echo kept > /var/lib/app/f; echo kept > /data/f")
    anon = {
        v.name
        for v in docker_client.volumes.list(filters={"label": f"{LABEL.PROJECT}={name}-default"})
    }
    assert len(anon) == 2  # labelled: the image's VOLUME and the bare /data

    write(path, image, "2")
    planned = envkit(*f, "plan")
    assert "= keeps anonymous volume /data" in planned.out
    assert "= keeps anonymous volume /var/lib/app" in planned.out
    assert envkit(*f, "up").code == 0
    assert exec_in(docker_client, container, CHECK) == "kept\nkept"

    write(path, image, "3")
    assert envkit(*f, "up", "-V").code == 0
    assert exec_in(docker_client, container, CHECK) == "missing"

    # down keeps every anonymous volume (as Compose); a new container gets new ones.
    assert envkit(*f, "down").code == 0
    left = docker_client.volumes.list(filters={"label": f"{LABEL.PROJECT}={name}-default"})
    assert anon <= {v.name for v in left}
    assert envkit(*f, "up").code == 0
    assert exec_in(docker_client, container, CHECK) == "missing"
    assert envkit(*f, "down", "--volumes").code == 0
    assert docker_client.volumes.list(filters={"label": f"{LABEL.PROJECT}={name}-default"}) == []


def test_docker_compose_keeps_them_too(app: tuple[Path, str, str], docker_client: Any) -> None:
    """The oracle: docker-compose 1.29.2 on the same file and engine."""
    path, name, image = app

    def compose(*args: str) -> None:
        subprocess.run(
            ["docker-compose", "-p", name, "-f", str(path), *args],
            check=True,
            capture_output=True,
        )

    write(path, image, "1")
    compose("up", "-d")
    container = f"{name}_app_1"
    exec_in(docker_client, container, "echo kept > /var/lib/app/f; echo kept > /data/f")
    write(path, image, "2")
    compose("up", "-d")
    assert exec_in(docker_client, container, CHECK) == "kept\nkept"
    compose("down")
    compose("up", "-d")
    assert exec_in(docker_client, container, CHECK) == "missing"
    compose("down", "-v")

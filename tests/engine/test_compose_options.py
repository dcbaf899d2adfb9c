"""Container options, compared field by field with docker-compose 1.29.2 (the oracle) on
the same file and engine: what `docker inspect` shows must be the same."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envkit.model import LABEL

from .cleanup import remove_labelled
from .conftest import IMAGE
from .images_support import envkit

pytestmark = pytest.mark.engine

COMPOSE = f"""\
version: "3.8"
services:
  app:
    image: {IMAGE}
    command: [sleep, "3600"]
    init: true
    stop_grace_period: 1s
    stop_signal: SIGINT
    stdin_open: true
    tty: true
    read_only: true
    shm_size: 32m
    pids_limit: 50
    sysctls: {{net.core.somaxconn: "1024"}}
    ulimits: {{nofile: {{soft: 1024, hard: 2048}}, nproc: 512}}
    dns: [192.0.2.53]
    dns_search: example.test
    group_add: ["1234"]
    domainname: example.test
    logging: {{driver: json-file, options: {{max-size: 1m}}}}
    expose: ["8080"]
    environment: {{A: "1"}}
    volumes: ["/data"]
"""

FIELDS = {
    "Config": ("StopSignal", "OpenStdin", "Tty", "Domainname", "ExposedPorts", "Cmd", "Env"),
    "HostConfig": (
        "ReadonlyRootfs",
        "ShmSize",
        "PidsLimit",
        "Sysctls",
        "Ulimits",
        "Dns",
        "DnsSearch",
        "GroupAdd",
        "LogConfig",
        "Init",
    ),
}


def fields(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {f"{part}.{key}": attrs[part].get(key) for part, keys in FIELDS.items() for key in keys}
    out["Config.Env"] = sorted(e for e in out["Config.Env"] or [] if e.startswith("A="))
    ulimits = out["HostConfig.Ulimits"] or []
    out["HostConfig.Ulimits"] = sorted((u["Name"], u["Soft"], u["Hard"]) for u in ulimits)
    out["Mounts"] = sorted((m["Type"], m["Destination"]) for m in attrs["Mounts"])
    return out


@pytest.fixture
def names(docker_client: Any, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    name = f"t{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "compose.yaml"
    path.write_text(COMPOSE)
    try:
        yield path, name
    finally:
        subprocess.run(
            ["docker-compose", "-p", f"{name}dc", "-f", str(path), "down", "-v"],
            capture_output=True,
            check=False,
        )
        remove_labelled(docker_client, f"{LABEL.STACK}={name}")


def test_container_options_match_docker_compose(
    names: tuple[Path, str], docker_client: Any
) -> None:
    path, name = names
    ran = envkit("-f", str(path), "up")
    assert ran.code == 0, ran.err
    ours = docker_client.containers.get(f"{name}-default-app-1").attrs
    subprocess.run(
        ["docker-compose", "-p", f"{name}dc", "-f", str(path), "up", "-d"],
        check=True,
        capture_output=True,
    )
    theirs = docker_client.containers.get(f"{name}dc_app_1").attrs
    assert fields(ours) == fields(theirs)
    assert fields(ours)["HostConfig.Ulimits"] == [("nofile", 1024, 2048), ("nproc", 512, 512)]
    assert envkit("-f", str(path), "plan", "--detailed-exitcode").code == 0


def test_platform_is_passed_to_create(names: tuple[Path, str], docker_client: Any) -> None:
    path, _ = names
    arch = docker_client.images.get(IMAGE).attrs["Architecture"]
    path.write_text(
        f"services:\n  app:\n    image: {IMAGE}\n    command: [sleep, '3600']\n"
        f"    init: true\n    platform: linux/{arch}\n"
    )
    ran = envkit("-f", str(path), "up")
    assert ran.code == 0, ran.err
    path.write_text(path.read_text().replace(f"linux/{arch}", "linux/s390x"))
    wrong = envkit("-f", str(path), "up")
    assert wrong.code == 1  # the engine refuses an image of another platform
    assert "error[" in wrong.err and "Traceback" not in wrong.err

"""Compose networks on the real engine: several networks, aliases, internal, links,
network_mode service:NAME; names resolve where Compose resolves them and nowhere else."""

from __future__ import annotations

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


def service(name: str, extra: str) -> str:
    return (
        f"  {name}:\n    image: {IMAGE}\n    command: [sleep, '3600']\n    init: true\n"
        f"    stop_grace_period: 1s\n" + "".join(f"    {line}\n" for line in extra.splitlines())
    )


COMPOSE = (
    "services:\n"
    + service("web", "networks:\n  front: {aliases: [www]}\n  back:\nlinks: ['db:database']")
    + service("db", "networks: [back]")
    + service("client", "networks: [front]")
    + service("side", "network_mode: service:db")
    + service("plain", "")
    + "networks:\n  front: {}\n  back: {internal: true, labels: {tier: back}}\n"
)


@pytest.fixture
def compose(docker_client: Any, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    name = f"t{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    folder.mkdir()
    path = folder / "compose.yaml"
    path.write_text(COMPOSE)
    try:
        yield path, f"{name}-default"
    finally:
        remove_labelled(docker_client, f"{LABEL.STACK}={name}")


def resolves(client: Any, container: str, host: str) -> bool:
    result = client.containers.get(container).exec_run(["nslookup", host, "127.0.0.11"])
    return result.exit_code == 0 and "Address" in result.output.decode().split("Name:", 1)[-1]


def test_networks_aliases_links_and_network_mode(
    compose: tuple[Path, str], docker_client: Any
) -> None:
    path, project = compose
    ran = envkit("-f", str(path), "up")
    assert ran.code == 0, ran.err
    networks = {
        n.name: n.attrs
        for n in docker_client.networks.list(filters={"label": f"{LABEL.PROJECT}={project}"})
    }
    assert set(networks) == {project, f"{project}_front", f"{project}_back"}
    back = docker_client.networks.get(f"{project}_back").attrs
    assert back["Internal"] is True
    assert back["Labels"]["tier"] == "back"

    def c(service: str) -> str:
        return f"{project}-{service}-1"

    assert resolves(docker_client, c("client"), "www")  # web's alias on front
    assert resolves(docker_client, c("client"), "web")
    assert not resolves(docker_client, c("client"), "db")  # db is only on back
    assert resolves(docker_client, c("web"), "db")
    assert resolves(docker_client, c("web"), "database")  # the link's alias, for web only
    assert not resolves(docker_client, c("db"), "database")
    assert not resolves(docker_client, c("plain"), "web")  # plain is on default only
    side = docker_client.containers.get(c("side")).attrs["HostConfig"]["NetworkMode"]
    db_id = docker_client.containers.get(c("db")).id
    assert side in (f"container:{c('db')}", f"container:{db_id}")
    # Converged, and down removes every network of the instance.
    assert envkit("-f", str(path), "plan", "--detailed-exitcode").code == 0
    assert envkit("-f", str(path), "down").code == 0
    assert docker_client.networks.list(filters={"label": f"{LABEL.PROJECT}={project}"}) == []


def test_an_external_network_must_exist_and_is_joined_by_its_name(
    compose: tuple[Path, str], docker_client: Any
) -> None:
    path, project = compose
    stack = project.removesuffix("-default")
    path.write_text(
        "services:\n"
        + service("app", "networks: [shared]")
        + f"networks:\n  shared: {{external: true, name: {stack}-shared}}\n"
    )
    missing = envkit("-f", str(path), "plan")
    assert missing.code == 1
    assert f"error[network-missing]: external network {stack}-shared" in missing.out + missing.err
    net = docker_client.networks.create(f"{stack}-shared", labels={OWNER: stack})
    try:
        ran = envkit("-f", str(path), "up")
        assert ran.code == 0, ran.err
        app = docker_client.containers.get(f"{project}-app-1")
        assert list(app.attrs["NetworkSettings"]["Networks"]) == [f"{stack}-shared"]
        assert envkit("-f", str(path), "down").code == 0
        docker_client.networks.get(f"{stack}-shared")  # external: never removed
    finally:
        remove_labelled(docker_client, f"{LABEL.STACK}={stack}")
        net.remove()

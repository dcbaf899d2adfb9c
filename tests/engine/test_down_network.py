"""down and the project network: what the engine still has on it, force-disconnect, and
an exact error (what is left, how to finish) when a container not of the instance holds it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from envkit.engine.docker import DockerEngine

from .conftest import IMAGE, StackFile, busybox

pytestmark = pytest.mark.engine


def test_down_names_a_foreign_container_holding_the_network_and_how_to_finish(
    stack: StackFile, docker_client: Any
) -> None:
    stack.write("environments: {e: {}}\nservices:\n" + busybox("web"))
    assert stack.cli("up", "e").code == 0
    project = stack.project("e")
    shell = docker_client.containers.run(
        IMAGE, ["sleep", "3600"], name=f"{stack.name}-shell", labels=stack.label(), detach=True
    )
    docker_client.networks.get(project).connect(shell)

    started = time.monotonic()
    down = stack.cli("down", "e")
    assert down.code == 1, down.text
    assert time.monotonic() - started < 15  # no waiting on a live container's endpoint
    assert f"cannot remove network {project}" in down.err
    assert f"{stack.name}-shell (a container)" in down.err
    assert f"docker network disconnect --force {project} {stack.name}-shell" in down.err
    assert "Traceback" not in down.text
    assert stack.containers("e") == {}  # every container of the instance went
    shell.reload()
    assert shell.status == "running"  # never touched: not the instance's

    docker_client.networks.get(project).disconnect(shell)
    again = stack.cli("down", "e")
    assert again.code == 0, again.text
    assert not docker_client.networks.list(names=[project])


def test_endpoints_are_listed_and_force_disconnected(
    engine: DockerEngine, stack: StackFile, docker_client: Any
) -> None:
    net = docker_client.networks.create(f"{stack.name}-net", labels=stack.label())
    ctr = docker_client.containers.run(
        IMAGE, ["sleep", "3600"], name=f"{stack.name}-c", labels=stack.label(), detach=True
    )
    net.connect(ctr)
    [endpoint] = engine.network_endpoints(net.name)
    assert (endpoint.key, endpoint.name, endpoint.live) == (ctr.id, ctr.name, True)
    engine.disconnect_network(net.name, ctr.name)
    assert engine.network_endpoints(net.name) == ()
    engine.remove_network(net.name)
    assert engine.network_endpoints(net.name) == ()  # gone: nothing, no error

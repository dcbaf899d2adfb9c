"""Drift made outside envkit, seen by plan and mended by up: a container disconnected from
the project network, the network removed and made again, a container recreated by hand
with copied envkit labels and another command."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import StackFile, busybox

pytestmark = pytest.mark.engine


def two_services(stack: StackFile) -> None:
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("web", command="echo ok > /tmp/ok; exec httpd -f -p 80 -h /tmp")
        + busybox("client", extra="depends_on: [web]")
    )


def reaches_web(stack: StackFile, tries: int = 10) -> bool:
    """Whether the client container reaches web by its service name on the project network
    (a few tries: httpd may still be starting)."""
    client = stack.containers("e")[f"{stack.project('e')}-client-1"]
    for _ in range(tries):
        probe = 'printf "GET /ok HTTP/1.0\\r\\n\\r\\n" | nc -w 1 web 80'
        _, out = client.exec_run(["sh", "-c", probe])
        if out.endswith(b"ok\n"):
            return True
        time.sleep(0.3)
    return False


def test_disconnected_container_is_planned_and_reattached(
    stack: StackFile, docker_client: Any
) -> None:
    two_services(stack)
    assert stack.cli("up", "e").code == 0
    assert reaches_web(stack)
    project = stack.project("e")
    docker_client.networks.get(project).disconnect(f"{project}-web-1")
    assert not reaches_web(stack, tries=1)

    planned = stack.cli("plan", "e", "--detailed-exitcode")
    assert planned.code == 2, planned.text
    assert f'~ networks: ["{project} (disconnected)"] -> ["{project}"]' in planned.out
    assert f"{project}-client-1" not in planned.out  # still attached: unchanged

    assert stack.cli("up", "e").code == 0
    assert reaches_web(stack)
    assert stack.cli("plan", "e", "--detailed-exitcode").code == 0


def test_removed_network_is_made_again_and_every_container_joins_it(
    stack: StackFile, docker_client: Any
) -> None:
    two_services(stack)
    assert stack.cli("up", "e").code == 0
    project = stack.project("e")
    net = docker_client.networks.get(project)
    for name in (f"{project}-web-1", f"{project}-client-1"):
        net.disconnect(name)
    net.remove()

    planned = stack.cli("plan", "e", "--detailed-exitcode")
    assert planned.code == 2, planned.text
    assert planned.out.count(f'["{project} (disconnected)"]') == 2

    assert stack.cli("up", "e").code == 0, stack.cli("plan", "e").text
    new_id = docker_client.networks.get(project).id
    for ctr in stack.containers("e").values():
        assert ctr.attrs["NetworkSettings"]["Networks"][project]["NetworkID"] == new_id
    assert reaches_web(stack)
    assert stack.cli("plan", "e", "--detailed-exitcode").code == 0


def test_stopped_container_of_a_remade_network_is_recreated_not_started(
    stack: StackFile, docker_client: Any
) -> None:
    two_services(stack)
    assert stack.cli("up", "e").code == 0
    project = stack.project("e")
    for ctr in stack.containers("e").values():
        ctr.stop(timeout=1)
    docker_client.networks.get(project).remove()  # stopped containers: no endpoints

    planned = stack.cli("plan", "e")
    assert planned.out.count(f'["{project} (network removed)"]') == 2, planned.text
    up = stack.cli("up", "e")
    assert up.code == 0, up.text  # a plain start would fail: "network ... not found"
    assert reaches_web(stack)


def test_container_recreated_by_hand_with_copied_labels_is_recreated(
    stack: StackFile, docker_client: Any
) -> None:
    two_services(stack)
    assert stack.cli("up", "e").code == 0
    project = stack.project("e")
    name = f"{project}-client-1"
    old = stack.containers("e")[name]
    labels, image = old.labels, old.image.id
    old.remove(force=True)
    docker_client.containers.run(
        image, ["sleep", "999"], name=name, labels=labels, network=project, detach=True
    )
    planned = stack.cli("plan", "e", "--detailed-exitcode")
    assert planned.code == 2, planned.text
    assert "command differs from the stack's (changed outside envkit)" in planned.out
    assert "sleep 999" not in planned.text

    assert stack.cli("up", "e").code == 0
    assert stack.containers("e")[name].attrs["Args"] == ["-c", "sleep 3600"]
    assert stack.cli("plan", "e", "--detailed-exitcode").code == 0

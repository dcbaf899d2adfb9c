"""A recreate never leaves a service down because of a value the engine refuses at create:
the new container is made beside the old one first (Compose's ``{id}_name``)."""

from __future__ import annotations

from typing import Any

import pytest

from envkit.model import LABEL

from .conftest import StackFile, busybox

pytestmark = pytest.mark.engine


def test_refused_create_leaves_the_old_container_running(
    stack: StackFile, docker_client: Any
) -> None:
    stack.write("environments: {e: {}}\nservices:\n" + busybox("web"))
    assert stack.cli("up", "e").code == 0
    name = f"{stack.project('e')}-web-1"
    before = stack.containers("e")[name]

    stack.edit("    init: true\n", "    init: true\n    cpus: 64\n")  # more than the host has
    assert stack.cli("validate", "e").code == 0
    up = stack.cli("up", "e")
    assert up.code == 1, up.text
    assert f"the old container {name} was left as it was (running)" in up.err
    assert "Traceback" not in up.text

    listed = docker_client.api.containers(
        all=True, filters={"label": f"{LABEL.PROJECT}={stack.project('e')}"}
    )
    assert [(c["Id"], c["Names"], c["State"]) for c in listed] == [
        (before.id, [f"/{name}"], "running")
    ]

    stack.edit("    cpus: 64\n", "    cpus: 0.5\n")  # mended: the recreate goes through
    assert stack.cli("up", "e").code == 0
    after = stack.containers("e")
    assert list(after) == [name] and after[name].id != before.id
    assert after[name].attrs["HostConfig"]["NanoCpus"] == 500_000_000

"""An image that cannot be had, on a real engine: plan says "missing locally, not pullable
here" for each service that needs it, once, before up changes anything; an image its
registry has is planned as a pull. (Apply's own report of a failed pull shared by several
services, once and in each one's name, is tests/unit/test_apply_images.py's.)"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from envkit.model import LABEL

from .cleanup import labelled_names, remove_labelled
from .conftest import IMAGE
from .images_support import envkit, free_port, local_registry

pytestmark = pytest.mark.engine


@pytest.fixture
def name(docker_client: Any) -> Iterator[str]:
    stack = f"t{uuid.uuid4().hex[:8]}"
    try:
        yield stack
    finally:
        remove_labelled(docker_client, f"{LABEL.STACK}={stack}")


def _stack(tmp_path: Path, name: str, ref: str) -> Path:
    """web (2 replicas) and other share the absent image ``ref``; ok has a local one."""
    path = tmp_path / "envkit.yaml"
    path.write_text(
        f"stack: {name}\nenvironments: {{e: {{}}}}\nservices:\n"
        f"  web:\n    image: {ref}\n    replicas: 2\n"
        f"  other:\n    image: {ref}\n"
        f"  ok:\n    image: {IMAGE}\n    command: [sleep, '600']\n"
    )
    return path


def test_plan_says_missing_locally_not_pullable_here_once_per_service(
    tmp_path: Path, name: str, docker_client: Any
) -> None:
    ref = f"127.0.0.1:{free_port()}/{name}/app:1"  # nothing listens there
    path = str(_stack(tmp_path, name, ref))
    planned = envkit("-f", path, "plan", "e")
    assert planned.code == 1, planned.err
    for service in ("web", "other"):
        line = (
            f"error[image-unavailable]: image {ref} of service {service} is missing locally, "
            "not pullable here: "
        )
        assert planned.err.count(line) == 1, planned.err
    assert "service ok" not in planned.err  # its image is here
    assert f"# image {ref} is missing locally, not pullable here" in planned.out
    assert "will be pulled" not in planned.out
    assert "envkit bundle load FILE" in planned.err

    # up refuses before it changes anything (the pull would fail half-way through).
    up = envkit("-f", path, "up", "e", "--wait", "--timeout", "60")
    assert up.code == 1
    assert "error[conflict]" in up.err and "nothing was changed" in up.err
    assert up.err.count("of service web is missing locally, not pullable here") == 1
    assert labelled_names(docker_client, f"{LABEL.STACK}={name}") == []


def test_an_image_its_registry_has_is_planned_as_a_pull(
    tmp_path: Path, name: str, docker_client: Any
) -> None:
    with local_registry() as registry:
        ref = f"{registry}/{name}/app:1"
        repo, tag = ref.rsplit(":", 1)
        docker_client.images.get(IMAGE).tag(repo, tag)
        for event in docker_client.api.push(repo, tag=tag, stream=True, decode=True):
            assert "error" not in event, event
        docker_client.images.remove(ref)  # in the registry only
        path = str(_stack(tmp_path, name, ref))
        planned = envkit("-f", path, "plan", "e")
        assert planned.code == 0, planned.err
        assert f"# image {ref} will be pulled" in planned.out
        assert "not pullable" not in planned.out + planned.err
        try:
            up = envkit("-f", path, "up", "e")
            assert up.code == 0, up.err
        finally:
            with contextlib.suppress(docker.errors.APIError):
                docker_client.images.remove(ref, force=True)

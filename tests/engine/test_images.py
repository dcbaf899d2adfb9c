"""Images on a real engine: build (context hash, .dockerignore, failing step), pull_policy
always against a private registry on 127.0.0.1 (an image updated under the same tag
recreates only its service), and a registry that is down."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from envkit.model import LABEL

from .cleanup import remove_labelled
from .conftest import IMAGE
from .images_support import envkit, free_port, local_registry


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    with local_registry() as address:
        yield address


@pytest.fixture
def name(docker_client: Any) -> Iterator[str]:
    """A unique stack name; its containers, networks, volumes and images go afterwards."""
    stack = f"t{uuid.uuid4().hex[:8]}"
    yield stack
    remove_labelled(docker_client, f"{LABEL.STACK}={stack}")
    # Only the tags this test made: another tag of the same image (the shared busybox test
    # image, say) must survive, or unrelated tests find their image gone.
    for image in docker_client.images.list():
        for tag in image.tags:
            if stack in tag:
                with contextlib.suppress(docker.errors.APIError):
                    docker_client.images.remove(tag, force=True)


def ids(client: Any, project: str) -> dict[str, str]:
    found = client.containers.list(all=True, filters={"label": f"{LABEL.PROJECT}={project}"})
    return {c.labels[LABEL.SERVICE]: c.id for c in found}


# -- build ------------------------------------------------------------------------------


def _build_stack(tmp_path: Path, name: str, dockerfile: str) -> Path:
    ctx = tmp_path / "app"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    (ctx / "data.txt").write_text("one\n")
    (ctx / "ignored.txt").write_text("one\n")
    (ctx / ".dockerignore").write_text("ignored.txt\n")
    path = tmp_path / "envkit.yaml"
    path.write_text(
        f"stack: {name}\nenvironments: {{e: {{}}}}\nservices:\n"
        "  app:\n    build: ./app\n    init: true\n    stop_grace_period: 1s\n"
        f"  other:\n    image: {IMAGE}\n    command: [sleep, '3600']\n    init: true\n"
        "    stop_grace_period: 1s\n"
    )
    return path


def test_build_rebuilds_on_context_change_but_not_on_ignored_files(
    tmp_path: Path, name: str, docker_client: Any
) -> None:
    path = _build_stack(
        tmp_path,
        name,
        f'FROM {IMAGE}\nCOPY data.txt /data.txt\nCMD ["sleep", "3600"]\n',
    )
    f = str(path)
    plan = envkit("-f", f, "plan", "e")
    assert plan.code == 0, plan.err
    assert f"image {name}-e-app will be built" in plan.out
    up = envkit("-f", f, "up", "e")
    assert up.code == 0, up.err
    assert "COPY data.txt /data.txt" in up.err  # build output streams to stderr
    project = f"{name}-e"
    before = ids(docker_client, project)
    assert docker_client.containers.get(before["app"]).exec_run("cat /data.txt").output == b"one\n"

    (tmp_path / "app" / "ignored.txt").write_text("two\n")  # .dockerignore'd
    again = envkit("-f", f, "plan", "e", "--detailed-exitcode")
    assert again.code == 0, again.out + again.err

    (tmp_path / "app" / "data.txt").write_text("two\n")
    changed = envkit("-f", f, "plan", "e", "--detailed-exitcode")
    assert changed.code == 2, changed.err
    assert "build.context_hash" in changed.out
    assert envkit("-f", f, "up", "e").code == 0
    after = ids(docker_client, project)
    assert after["other"] == before["other"]
    assert after["app"] != before["app"]
    assert docker_client.containers.get(after["app"]).exec_run("cat /data.txt").output == b"two\n"
    assert envkit("-f", f, "plan", "e", "--detailed-exitcode").code == 0


def test_failing_build_step_is_shown(tmp_path: Path, name: str) -> None:
    path = _build_stack(
        tmp_path,
        name,
        f'FROM {IMAGE}\nRUN echo preparing\nRUN echo boom-output-123 && exit 3\nCMD ["true"]\n',
    )
    up = envkit("-f", str(path), "up", "e")
    assert up.code == 1
    assert "error[build-failed]" in up.err
    # the builder counts envkit's LABEL instruction as a step too: 3/5
    assert "failing step: Step 3/5 : RUN echo boom-output-123 && exit 3" in up.err
    assert "its output:\n    boom-output-123\n" in up.err
    assert "Traceback" not in up.err


def test_missing_build_context_is_a_located_stack_error(tmp_path: Path, name: str) -> None:
    path = tmp_path / "envkit.yaml"
    path.write_text(
        f"stack: {name}\nenvironments: {{e: {{}}}}\nservices:\n"
        "  app:\n    build:\n      context: ./nowhere\n"
    )
    result = envkit("-f", str(path), "render", "e")
    assert result.code == 2
    assert f"{path}:6:16: error[missing-build-context]: services.app.build:" in result.err
    assert "nowhere does not exist" in result.err


# -- registry: pull_policy always -----------------------------------------------------


def _push(client: Any, source: str, ref: str) -> str:
    repo, tag = ref.rsplit(":", 1)
    client.images.get(source).tag(repo, tag)
    for event in client.api.push(repo, tag=tag, stream=True, decode=True):
        assert "error" not in event, event
    image_id: str = client.images.get(ref).id
    return image_id


def test_pull_always_sees_an_image_updated_in_the_registry(
    tmp_path: Path, name: str, registry: str, docker_client: Any
) -> None:
    ref = f"{registry}/{name}/app:1"
    _push(docker_client, IMAGE, ref)
    path = tmp_path / "envkit.yaml"
    common = "    command: [sleep, '3600']\n    init: true\n    stop_grace_period: 1s\n"
    path.write_text(
        f"stack: {name}\nenvironments: {{e: {{}}}}\nservices:\n"
        f"  app:\n    image: {ref}\n    pull_policy: always\n{common}"
        f"  other:\n    image: {IMAGE}\n{common}"
    )
    f = str(path)
    assert envkit("-f", f, "up", "e").code == 0
    before = ids(docker_client, f"{name}-e")
    assert envkit("-f", f, "plan", "e", "--detailed-exitcode").code == 0

    # a new image under the same tag, pushed from elsewhere; the local copy is the old one
    new = docker_client.images.build(
        fileobj=__import__("io").BytesIO(f"FROM {IMAGE}\nLABEL v=2\n".encode()),
        tag=f"{name}-v2:latest",
        rm=True,
    )[0]
    old_id = docker_client.images.get(ref).id
    new_id = _push(docker_client, new.id, ref)
    docker_client.images.get(old_id).tag(*ref.rsplit(":", 1))  # local tag back to the old one
    assert docker_client.images.get(ref).id == old_id

    plan = envkit("-f", f, "plan", "e", "--json")
    assert plan.code == 0, plan.err
    changes = {c["name"]: c for c in json.loads(plan.out)["changes"] if c["kind"] == "container"}
    assert changes[f"{name}-e-app-1"]["action"] == "recreate"
    assert any("image" in r and "changed" in r for r in changes[f"{name}-e-app-1"]["reasons"])
    assert changes[f"{name}-e-other-1"]["action"] == "noop"
    assert envkit("-f", f, "up", "e").code == 0
    after = ids(docker_client, f"{name}-e")
    assert after["other"] == before["other"]
    assert after["app"] != before["app"]
    assert docker_client.containers.get(after["app"]).image.id == new_id


def test_pull_from_a_registry_that_is_down_says_what_to_do(tmp_path: Path, name: str) -> None:
    ref = f"127.0.0.1:{free_port()}/{name}/app:1"
    path = tmp_path / "envkit.yaml"
    path.write_text(
        f"stack: {name}\nenvironments: {{e: {{}}}}\nservices:\n  app:\n    image: {ref}\n"
    )
    up = envkit("-f", str(path), "up", "e")
    assert up.code == 1
    assert (
        f"error[image-unavailable]: image {ref} of service app is missing locally, not "
        f"pullable here: cannot look up image {ref}"
    ) in up.err
    assert "connection refused" in up.err
    assert "envkit bundle load FILE" in up.err
    assert "Traceback" not in up.err

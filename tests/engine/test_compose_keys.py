"""Compose keys of issue 9, section 3, on the real engine: what the stack says reaches
``docker inspect`` (mount options, uppercase names), and ``up`` twice changes nothing."""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import docker.errors
import pytest

from envkit.engine.docker_json import image_tagged_at

from .conftest import StackFile, busybox
from .images_support import local_registry

pytestmark = pytest.mark.engine

MOUNTS = """\
    volumes:
      - Data:/data:nocopy
      - ./conf:/etc/conf:ro,z
      - type: bind
        source: ./made/here
        target: /made
        bind: {create_host_path: true}
      - type: bind
        source: ./conf
        target: /private
        bind: {propagation: rprivate}
      - type: tmpfs
        target: /t
        tmpfs: {size: 2m, mode: 0o1770}
"""


def test_mount_options_reach_the_engine(stack: StackFile, docker_client: Any) -> None:
    (stack.dir / "conf").mkdir()
    stack.write("services:\n" + busybox("Web") + MOUNTS + "volumes:\n  Data: {}\n")
    ran = stack.cli("up", "default")
    assert ran.code == 0, ran.text
    container = docker_client.containers.get(f"{stack.name}-default-Web-1")
    host = container.attrs["HostConfig"]
    by_target = {m["Target"]: m for m in host["Mounts"]}
    assert by_target["/data"]["Source"] == f"{stack.name}-default_Data"
    assert by_target["/data"]["VolumeOptions"] == {"NoCopy": True}
    assert by_target["/t"]["TmpfsOptions"] == {"SizeBytes": 2 << 20, "Mode": 0o1770}
    assert by_target["/private"]["BindOptions"] == {"Propagation": "rprivate"}
    assert sorted(host["Binds"]) == [
        f"{stack.dir}/conf:/etc/conf:ro,z",
        f"{stack.dir}/made/here:/made:rw",
    ]
    assert (stack.dir / "made" / "here").is_dir()  # create_host_path: the engine made it
    shown = {m["Destination"]: m for m in container.attrs["Mounts"]}
    assert shown["/etc/conf"]["Mode"] == "ro,z"
    # the tmpfs is there, 2 MiB, with the mode asked for
    code, out = container.exec_run(["sh", "-c", "stat -c %a /t; df -k /t | tail -n1"])
    assert code == 0, out
    mode, df = out.decode().splitlines()
    assert mode == "1770"
    assert df.split()[1] == "2048"
    again = stack.cli("plan", "default", "--detailed-exitcode")
    assert again.code == 0, again.text


def test_subpath_on_an_old_engine_is_a_located_error(stack: StackFile) -> None:
    stack.write(
        "services:\n"
        + busybox("web")
        + "    volumes:\n      - type: volume\n        source: data\n        target: /d\n"
        "        volume: {subpath: sub}\nvolumes:\n  data: {}\n"
    )
    ran = stack.cli("up", "default")
    assert ran.code == 1
    assert "error[engine-too-old]" in ran.err, ran.err
    assert "subpath 'sub', which needs engine API 1.45" in ran.err
    assert "envkit.yaml:3:" in ran.err  # located at the service
    assert "Traceback" not in ran.err


def test_build_keys_reach_the_built_image(stack: StackFile, docker_client: Any) -> None:
    from .conftest import IMAGE

    (stack.dir / "ctx").mkdir()
    (stack.dir / "ctx" / "file.txt").write_text("hi\n")
    repo = f"envkit-test/{stack.name}"
    stack.write(
        f"""\
services:
  app:
    image: {repo}:1
    command: [sleep, "3600"]
    init: true
    build:
      context: ctx
      dockerfile_inline: |
        FROM {IMAGE}
        COPY file.txt /file.txt
        RUN grep myhost /etc/hosts > /hosts.txt; df -k /dev/shm | tail -n1 > /shm.txt
      tags: ["{repo}:extra"]
      labels: [team=shop]
      network: host
      shm_size: 64m
      extra_hosts: ["myhost:10.1.2.3"]
      cache_from: [{IMAGE}]
      no_cache: true
"""
    )
    try:
        ran = stack.cli("up", "default")
        assert ran.code == 0, ran.text
        image = docker_client.images.get(f"{repo}:1")
        assert f"{repo}:extra" in image.tags
        assert image.attrs["Config"]["Labels"]["team"] == "shop"
        out = docker_client.containers.run(
            image.id, ["cat", "/hosts.txt", "/shm.txt", "/file.txt"], remove=True
        ).decode()
        assert "10.1.2.3\tmyhost" in out  # extra_hosts reached RUN
        assert out.split("\n")[1].split()[1] == "65536"  # shm_size: 64 MiB of /dev/shm
        assert out.endswith("hi\n")
        again = stack.cli("plan", "default", "--detailed-exitcode")
        assert again.code == 0, again.text  # the built image is reused: nothing to do
        # a tag removed since the build is put back when the image is next used
        docker_client.images.remove(f"{repo}:extra")
        assert stack.cli("down", "default").code == 0
        assert stack.cli("up", "default").code == 0
        assert f"{repo}:extra" in docker_client.images.get(f"{repo}:1").tags
        assert docker_client.images.get(f"{repo}:1").id == image.id  # not built again
        stack.edit("team=shop", "team=ops")
        changed = stack.cli("plan", "default", "--detailed-exitcode")
        assert changed.code == 2, changed.text  # a build key changed: rebuild, recreate
    finally:
        stack.cleanup()
        for tag in (f"{repo}:1", f"{repo}:extra"):
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag, force=True)


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    with local_registry() as address:
        yield address


def _push(client: Any, source: str, ref: str) -> str:
    repo, tag = ref.rsplit(":", 1)
    client.images.get(source).tag(repo, tag)
    for event in client.api.push(repo, tag=tag, stream=True, decode=True):
        assert "error" not in event, event
    return str(client.images.get(ref).id)


def _app_action(stack: StackFile) -> str:
    plan = stack.cli("plan", "default", "--json")
    assert plan.code == 0, plan.text
    changes = json.loads(plan.out)["changes"]
    (app,) = [c for c in changes if c["kind"] == "container"]
    return str(app["action"])


def test_pull_every_pulls_once_the_window_has_passed(
    stack: StackFile, registry: str, docker_client: Any
) -> None:
    from .conftest import IMAGE

    ref = f"{registry}/{stack.name}/app:1"
    try:
        old_id = _push(docker_client, IMAGE, ref)
        stack.write(
            "services:\n"
            + busybox("app", extra=f"image: {ref}\npull_policy: every_1h").replace(
                f"    image: {IMAGE}\n", ""
            )
        )
        up = stack.cli("up", "default")
        assert up.code == 0, up.text
        assert "pulling" not in up.text  # tagged a moment ago: within the hour
        # a new image under the same tag in the registry; the local tag back to the old one
        new = docker_client.images.build(
            fileobj=io.BytesIO(f"FROM {IMAGE}\nLABEL v={stack.name}\n".encode()),
            tag=f"envkit-test/{stack.name}-v2:latest",
            rm=True,
        )[0]
        new_id = _push(docker_client, new.id, ref)
        docker_client.images.get(old_id).tag(*ref.rsplit(":", 1))
        assert _app_action(stack) == "noop"  # within the window: the local image is used
        stack.edit("every_1h", "every_1s")
        time.sleep(1.1)
        assert _app_action(stack) == "recreate"  # the window passed: pulled before planning
        up = stack.cli("up", "default")
        assert up.code == 0, up.text
        (app,) = stack.containers("default").values()
        assert app.image.id == new_id
        # the pull is recorded where the next run reads it: the image's LastTagTime
        tagged = image_tagged_at(docker_client.api.inspect_image(ref))
        assert tagged is not None and time.time() - tagged < 30
        stack.edit("every_1s", "daily")
        assert stack.cli("plan", "default", "--detailed-exitcode").code == 0
    finally:
        stack.cleanup()
        for image in docker_client.images.list():
            for tag in image.tags:
                if stack.name in tag:
                    with contextlib.suppress(docker.errors.APIError):
                        docker_client.images.remove(tag, force=True)

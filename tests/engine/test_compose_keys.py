"""Compose keys of issue 9, section 3, on the real engine: what the stack says reaches
``docker inspect`` (mount options, uppercase names), and ``up`` twice changes nothing."""

from __future__ import annotations

import contextlib
from typing import Any

import docker.errors
import pytest

from .conftest import StackFile, busybox

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
        stack.edit("team=shop", "team=ops")
        changed = stack.cli("plan", "default", "--detailed-exitcode")
        assert changed.code == 2, changed.text  # a build key changed: rebuild, recreate
    finally:
        stack.cleanup()
        for tag in (f"{repo}:1", f"{repo}:extra"):
            with contextlib.suppress(docker.errors.ImageNotFound):
                docker_client.images.remove(tag, force=True)

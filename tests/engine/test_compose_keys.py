"""Compose keys of issue 9, section 3, on the real engine: what the stack says reaches
``docker inspect`` (mount options, uppercase names), and ``up`` twice changes nothing."""

from __future__ import annotations

from typing import Any

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

"""Reading the Swarm-only keys (envkit.stackfile.swarmkeys) and the plan-time warnings:
located errors, and the defences of secret files (no symlink, FIFO, device or huge file)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envkit.errors import StackError
from envkit.reconcile.swarm_warnings import swarm_warnings
from envkit.stackfile.pipeline import read, resolve
from envkit.stackfile.swarmkeys import MAX_OBJECT_BYTES, to_swarm
from envkit.swarm_model import DeployMode, EndpointMode, SwarmStack


def _load(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> SwarmStack:
    f = tmp_path / "envkit.yaml"
    f.write_text(text, encoding="utf-8")
    r = resolve(read(f), "dev", environ=environ or {})
    return to_swarm(r.rendered, r.desired)


HEAD = "stack: s\nenvironments: {dev: {engine: {swarm: 'unix:///m.sock'}}}\n"


def test_deploy_keys_are_read(tmp_path: Path) -> None:
    stack = _load(tmp_path, HEAD + """\
services:
  job:
    image: busybox
    deploy:
      mode: replicated-job
      replicas: 3
      endpoint_mode: dnsrr
      labels: [team=core]
      placement: {preferences: [{spread: node.labels.zone}]}
      restart_policy: {condition: on-failure, delay: 1s, max_attempts: 2, window: 10s}
      rollback_config: {parallelism: 0, order: stop-first}
""")  # fmt: skip
    svc = stack.service("job")
    d = svc.deploy
    assert d.mode is DeployMode.REPLICATED_JOB and svc.replicas == 3
    assert d.endpoint_mode is EndpointMode.DNSRR
    assert d.labels == (("team", "core"),)
    assert d.placement.preferences == ("node.labels.zone",)
    assert d.restart_policy is not None and d.restart_policy.window_s == 10
    assert svc.networks == (("default", ()),)  # like docker stack deploy: {project}_default
    assert [n.name for n in stack.networks] == ["default"]


def test_an_undeclared_secret_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(StackError) as caught:
        _load(tmp_path, HEAD + "services:\n  a:\n    image: busybox\n    secrets: [nope]\n")
    text = caught.value.render()
    assert "envkit.yaml:6:15:" in text and "error[unknown-secret]" in text
    assert "hint: add it to `secrets:`" in text


def test_secret_from_the_environment(tmp_path: Path) -> None:
    text = HEAD + (
        "services:\n  a:\n    image: busybox\n    secrets: [tok]\n"
        "secrets:\n  tok: {environment: TOKEN}\n"
    )
    stack = _load(tmp_path, text, {"TOKEN": "hunter2"})
    assert stack.secrets[0].data == b"hunter2"
    with pytest.raises(StackError, match="TOKEN is not set"):
        _load(tmp_path, text, {})


@pytest.mark.parametrize("kind", ["symlink", "fifo", "huge", "missing"])
def test_secret_files_that_are_not_small_regular_files_are_refused(
    tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "s.txt"
    if kind == "symlink":
        (tmp_path / "real").write_text("x", encoding="utf-8")
        target.symlink_to(tmp_path / "real")
    elif kind == "fifo":
        os.mkfifo(target)  # opening it for reading would block without O_NONBLOCK
    elif kind == "huge":
        target.write_bytes(b"x" * (MAX_OBJECT_BYTES + 1))
    text = HEAD + (
        "services:\n  a:\n    image: busybox\n    secrets: [s]\nsecrets:\n  s: {file: s.txt}\n"
    )
    with pytest.raises(StackError) as caught:
        _load(tmp_path, text)
    assert "error[unreadable-file]" in caught.value.render()


def test_warnings_name_what_swarm_treats_differently(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch\n", encoding="utf-8")
    stack = _load(tmp_path, HEAD + """\
services:
  db:
    image: 127.0.0.1:5000/busybox
    volumes: [data:/data, ./conf:/conf]
  web:
    build: ./ctx
    image: web
    depends_on: [db]
  cli:
    image: busybox
volumes:
  data: {}
""")  # fmt: skip
    codes = sorted((w.service, w.code) for w in swarm_warnings(stack))
    assert codes == [
        ("cli", "image-per-node"),
        ("db", "per-node-bind"),
        ("db", "per-node-volume"),
        ("web", "build-without-registry"),
        ("web", "depends-on-ordering"),
    ]
    assert all(w.hint for w in swarm_warnings(stack))
    with_registry = {w.code for w in swarm_warnings(stack, registry="10.0.0.1:5000")}
    assert "image-per-node" not in with_registry and "build-without-registry" not in with_registry


def test_mount_options_swarm_has_no_field_for_are_said(tmp_path: Path) -> None:
    """z/Z, a missing bind folder Compose would create, and volume.subpath: a task gets
    none of them, so the plan says so (each with a hint)."""
    stack = _load(tmp_path, HEAD + """\
services:
  a:
    image: 10.0.0.1:5000/busybox
    volumes:
      - ./short:/short:z
      - {type: bind, source: ./long, target: /long}
      - {type: volume, source: data, target: /sub, volume: {subpath: part}}
volumes:
  data: {}
""")  # fmt: skip
    said = [w for w in swarm_warnings(stack) if w.code in ("per-node-bind", "ignored-by-swarm")]
    messages = [w.message for w in said]
    assert any(
        "short must exist" in m and "Swarm does not create a missing one" in m for m in messages
    )
    long_bind = next(m for m in messages if "long must exist" in m)
    assert "create" not in long_bind  # long syntax without create_host_path: nothing to say
    assert any(":z relabel of mount /short is not sent" in m for m in messages)
    assert any("volume.subpath part of mount /sub is not sent" in m for m in messages)
    assert all(w.hint for w in said)


def test_a_host_address_on_a_port_is_said_to_be_ignored(tmp_path: Path) -> None:
    stack = _load(tmp_path, HEAD + (
        "services:\n  a:\n    image: 10.0.0.1:5000/busybox\n"
        "    ports: ['127.0.0.1:8080:80']\n"
    ))  # fmt: skip
    [warning] = swarm_warnings(stack)
    assert warning.code == "ignored-by-swarm" and "127.0.0.1" in warning.message


def test_a_host_range_for_one_port_is_said_to_publish_its_first_port(tmp_path: Path) -> None:
    stack = _load(tmp_path, HEAD + (
        "services:\n  a:\n    image: 10.0.0.1:5000/busybox\n"
        "    ports: ['8000-8010:80']\n"
    ))  # fmt: skip
    [warning] = swarm_warnings(stack)
    assert warning.code == "ignored-by-swarm"
    assert warning.message == (
        "port 80/tcp has the host range 8000-8010: Swarm publishes one port, 8000"
    )


def test_keys_no_swarm_task_gets_are_warned_with_a_hint(tmp_path: Path) -> None:
    stack = _load(tmp_path, HEAD + """\
services:
  db:
    image: 10.0.0.1:5000/busybox
    container_name: the-db
    labels: {team: a}
    tmpfs: [/run]
    sysctls: {net.core.somaxconn: "1024"}
    devices: [/dev/fuse]
  web:
    image: 10.0.0.1:5000/busybox
    links: [db]
    volumes_from: [db]
  tool:
    image: 10.0.0.1:5000/busybox
    network_mode: host
  plain:
    image: 10.0.0.1:5000/busybox
""")  # fmt: skip
    found = [w for w in swarm_warnings(stack) if w.code != "depends-on-ordering"]
    assert all(w.code == "ignored-by-swarm" and w.hint for w in found)  # links imply depends_on
    keys = sorted((w.service, w.message.split(":")[0]) for w in found)
    assert keys == [
        ("db", "container_name"),
        ("db", "devices"),
        ("db", "labels"),
        ("db", "sysctls"),
        ("db", "tmpfs"),
        ("tool", "network_mode"),
        ("web", "links"),
        ("web", "volumes_from"),
    ]
    [name] = [w for w in found if w.message.startswith("container_name")]
    assert "the-db" in name.message and "envkit ps" in name.hint

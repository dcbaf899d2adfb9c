"""Throwaway instances against the real engine: --ephemeral, random ports, --ttl, the
lease, gc, envkit env and the instance lock, through the CLI as separate processes.

Each test has its own stack (``i<8 hex>``) written to tmp_path; everything labelled with
that stack (every instance of it), and the foreign objects a test makes (``OWNER``), is
removed afterwards, even when the test fails.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from envkit.model import LABEL
from envkit.reconcile.expiry import LEASE_LABEL, lease_name

from .conftest import IMAGE, OWNER, ROOT

pytestmark = pytest.mark.engine

# A web server with a healthcheck; ephemeral_ports for `ci`, a fixed port for `fixed`.
STACK = """\
stack: {name}
vars: {{port: {port}}}
environments:
  ci: {{ephemeral_ports: true}}
  fixed: {{}}
services:
  web:
    image: {image}
    command: [sh, -c, "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8000 -h /www"]
    ports: ["127.0.0.1:{{{{ port }}}}:8000"]
    volumes: ["data:/data"]
    init: true
    stop_grace_period: 1s
    healthcheck:
      test: [CMD, wget, -q, -O, /dev/null, "http://127.0.0.1:8000/"]
      interval: 500ms
      retries: 60
  side:
    image: {image}
    command: [sleep, "3600"]
    init: true
    stop_grace_period: 1s
volumes:
  data: {{}}
"""


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Stack:
    name: str
    path: Path
    client: Any

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "envkit", "-f", str(self.path), *args]

    def run(self, *args: str, timeout: float = 180) -> Run:
        p = subprocess.run(
            self.argv(*args), capture_output=True, text=True, timeout=timeout, cwd=ROOT
        )
        return Run(p.returncode, p.stdout, p.stderr)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )

    def objects(self) -> dict[str, set[str]]:
        """Everything on the engine labelled with this stack, by kind."""
        sel = {"label": f"{LABEL.STACK}={self.name}"}
        return {
            "containers": {c.name for c in self.client.containers.list(all=True, filters=sel)},
            "networks": {n.name for n in self.client.networks.list(filters=sel)},
            "volumes": {v.name for v in self.client.volumes.list(filters=sel)},
        }

    def cleanup(self) -> None:
        for selector in (f"{LABEL.STACK}={self.name}", f"{OWNER}={self.name}"):
            sel = {"label": selector}
            for c in self.client.containers.list(all=True, filters=sel):
                _quietly(c.remove, force=True, v=True)
            for n in self.client.networks.list(filters=sel):
                _quietly(n.remove)
            for v in self.client.volumes.list(filters=sel):
                _quietly(v.remove, force=True)


def _quietly(fn: Any, **kwargs: Any) -> None:
    with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
        fn(**kwargs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def stack(docker_client: Any, tmp_path: Path) -> Iterator[Stack]:
    name = f"i{uuid.uuid4().hex[:8]}"
    path = tmp_path / "envkit.yaml"
    path.write_text(STACK.format(name=name, port=_free_port(), image=IMAGE))
    s = Stack(name, path, docker_client)
    try:
        yield s
    finally:
        s.cleanup()


def _get(port: str) -> str:
    """GET / from the instance's published address (127.0.0.1 only)."""
    host, _, number = port.rpartition(":")
    assert host == "127.0.0.1"
    with socket.create_connection((host, int(number)), timeout=5) as conn:
        conn.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        data = b""
        while chunk := conn.recv(4096):
            data += chunk
    return data.decode()


# -- ten instances at once, then gc --------------------------------------------------------


def test_ten_parallel_ephemeral_instances_are_healthy_distinct_and_reaped_by_gc(
    stack: Stack, docker_client: Any
) -> None:
    foreign = docker_client.containers.create(
        IMAGE, ["sleep", "3600"], name=f"{stack.name}-foreign", labels={OWNER: stack.name}
    )
    keep = stack.run("up", "ci", "--instance", "keep", "--wait")
    assert keep.code == 0, keep.err

    procs = [
        stack.popen("up", "ci", "--ephemeral", "--ttl", "5s", "--wait", "--json") for _ in range(10)
    ]
    docs = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        docs.append(json.loads(out))

    instances = {d["instance"] for d in docs}
    assert len(instances) == 10
    ports = [d["services"]["web"]["ports"]["8000/tcp"] for d in docs]
    assert len(set(ports)) == 10, ports
    for d, port in zip(docs, ports, strict=True):
        assert d["project"] == f"{stack.name}-ci-{d['instance']}"
        assert d["services"]["web"]["health"] == "healthy"
        assert d["services"]["side"]["state"] == "running"
        assert d["expires"] is not None
        assert "ok" in _get(port)

    # Every object of every instance carries the expiry; each instance has its lease.
    for kind, objs in (
        (
            "container",
            docker_client.containers.list(
                all=True, filters={"label": f"{LABEL.STACK}={stack.name}"}
            ),
        ),
        ("network", docker_client.networks.list(filters={"label": f"{LABEL.STACK}={stack.name}"})),
        ("volume", docker_client.volumes.list(filters={"label": f"{LABEL.STACK}={stack.name}"})),
    ):
        for obj in objs:
            labels = obj.attrs.get("Labels") or obj.attrs.get("Config", {}).get("Labels") or {}
            if labels.get(LABEL.INSTANCE) in instances:
                assert LABEL.EXPIRES in labels, (kind, obj.name)
    leases = {v.name for v in docker_client.volumes.list(filters={"label": LEASE_LABEL})}
    assert {lease_name(d["project"]) for d in docs} <= leases

    time.sleep(6)
    gc = stack.run("gc", "--json")
    assert gc.code == 0, gc.err
    reaped = {e["project"] for e in json.loads(gc.out)["removed"]}
    assert {d["project"] for d in docs} <= reaped
    assert f"{stack.name}-ci-keep" not in reaped

    left = stack.objects()
    assert all("-ci-keep" in n for names in left.values() for n in names), left
    assert left["containers"] == {f"{stack.name}-ci-keep-web-1", f"{stack.name}-ci-keep-side-1"}
    foreign.reload()  # still there, untouched
    assert foreign.status == "created"


# -- the lease: up --ttl again extends ------------------------------------------------------


def test_up_ttl_again_extends_the_expiry_through_the_lease_and_down_volumes_removes_it(
    stack: Stack, docker_client: Any
) -> None:
    first = stack.run("up", "ci", "--instance", "lease", "--ttl", "2s", "--json")
    assert first.code == 0, first.err
    project = f"{stack.name}-ci-lease"
    time.sleep(3)  # expired now ...
    again = stack.run("up", "ci", "--instance", "lease", "--ttl", "1h", "--json")
    assert again.code == 0, again.err
    assert "No changes" in again.err  # ... and extended without touching a container
    lease = docker_client.volumes.get(lease_name(project))
    assert lease.attrs["Labels"][LABEL.EXPIRES] == json.loads(again.out)["expires"]

    dry = stack.run("gc", "--dry-run", "--json")
    assert project not in {e["project"] for e in json.loads(dry.out)["removed"]}
    old = stack.run("gc", "--dry-run", "--older-than", "1s", "--json")
    assert project in {e["project"] for e in json.loads(old.out)["removed"]}

    down = stack.run("down", "ci", "--instance", "lease", "--volumes")
    assert down.code == 0, down.err
    assert stack.objects() == {"containers": set(), "networks": set(), "volumes": set()}


def test_gc_dry_run_lists_and_removes_nothing(stack: Stack) -> None:
    up = stack.run("up", "ci", "--instance", "dry", "--ttl", "1s")
    assert up.code == 0, up.err
    assert up.out == ""  # no --ephemeral, no --json: nothing on stdout
    time.sleep(2)
    before = stack.objects()
    dry = stack.run("gc", "--dry-run")
    assert dry.code == 0, dry.err
    project = f"{stack.name}-ci-dry"
    mine = {line for line in dry.out.splitlines() if project in line}
    assert mine == {
        f"container {project}-side-1",
        f"container {project}-web-1",
        f"network {project}",
        f"volume {project}.envkit-lease",
        f"volume {project}_data",
    }
    assert "dry run: nothing was removed" in dry.err
    assert stack.objects() == before


def test_gc_with_nothing_of_ours_to_do(stack: Stack) -> None:
    up = stack.run("up", "ci", "--instance", "fresh", "--ttl", "1h")
    assert up.code == 0, up.err
    gc = stack.run("gc")
    assert gc.code == 0, gc.err
    assert stack.name not in gc.out
    assert stack.objects()["containers"]  # not expired: kept


# -- envkit env -----------------------------------------------------------------------------


def test_env_output_evals_in_a_shell_and_reaches_the_instance(stack: Stack) -> None:
    up = stack.run("up", "ci", "--ephemeral", "--wait")
    assert up.code == 0, up.err
    instance = up.out.strip()
    assert len(instance) == 8 and all(ch in "0123456789abcdef" for ch in instance)
    script = (
        f'eval "$({" ".join(stack.argv("env", "ci", "--instance", instance))})" && '
        'echo "$ENVKIT_PROJECT $ENVKIT_WEB_8000 $ENVKIT_WEB_8000_HOST $ENVKIT_WEB_8000_PORT"'
    )
    shell = subprocess.run(["sh", "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert shell.returncode == 0, shell.stderr
    project, address, host, port = shell.stdout.split()
    assert project == f"{stack.name}-ci-{instance}"
    assert address == f"{host}:{port}" and host == "127.0.0.1"
    assert "ok" in _get(address)
    as_json = json.loads(stack.run("env", "ci", "--instance", instance, "--format", "json").out)
    assert as_json["format_version"] == 1
    as_json = as_json["variables"]
    assert as_json["ENVKIT_WEB_8000"] == address
    assert as_json["ENVKIT_INSTANCE"] == instance


# -- collisions and the lock ----------------------------------------------------------------


def test_two_instances_with_a_fixed_port_the_second_is_refused_naming_the_holder(
    stack: Stack,
) -> None:
    first = stack.run("up", "fixed", "--instance", "one")
    assert first.code == 0, first.err
    second = stack.run("up", "fixed", "--instance", "two")
    assert second.code == 1
    assert "error[conflict]" in second.err and "port-in-use" in second.err
    assert f"{stack.name}-fixed-one-web-1" in second.err  # which container holds it
    assert not any("-fixed-two" in n for n in stack.objects()["containers"])


def test_two_jobs_with_the_same_instance_id_take_turns(stack: Stack) -> None:
    a = stack.popen("up", "ci", "--instance", "same", "--wait", "--json")
    time.sleep(0.3)
    b = stack.popen("up", "ci", "--instance", "same", "--wait", "--json")
    (out_a, err_a), (out_b, err_b) = a.communicate(timeout=120), b.communicate(timeout=120)
    assert a.returncode == 0, err_a
    assert b.returncode == 0, err_b
    assert "waiting for another envkit" in err_a + err_b
    assert json.loads(out_a)["services"] == json.loads(out_b)["services"]
    assert len(stack.objects()["containers"]) == 2  # one instance, not two


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (("up", "ci", "--instance", "Bad/Id"), "--instance 'Bad/Id' is not a valid instance id"),
        (("up", "ci", "--ephemeral", "--ttl", "2x"), "--ttl '2x' is not a duration"),
        (("up", "ci", "--ephemeral", "--ttl", "0s"), "--ttl '0s' must be longer than zero"),
        (("up", "ci", "--ephemeral", "--instance", "x"), "--ephemeral and --instance exclude"),
        (("gc", "--older-than", "soon"), "--older-than 'soon' is not a duration"),
        (("gc", "--include-unexpiring"), "--include-unexpiring needs --older-than"),
        (("env", "ci", "--instance", "-x"), "expected one argument"),
    ],
)
def test_bad_input_exits_2_without_touching_the_engine(
    stack: Stack, argv: tuple[str, ...], needle: str
) -> None:
    got = stack.run(*argv)
    assert got.code == 2, got.err
    assert needle in got.err
    assert "Traceback" not in got.err
    assert stack.objects() == {"containers": set(), "networks": set(), "volumes": set()}


def test_env_of_an_instance_that_does_not_run(stack: Stack) -> None:
    got = stack.run("env", "ci", "--instance", "nothing")
    assert got.code == 1
    assert f"error[not-running]: no containers for {stack.name}-ci-nothing" in got.err
    assert "envkit up ci --instance nothing" in got.err


def test_gc_never_touches_unlabelled_objects(stack: Stack, docker_client: Any) -> None:
    """Objects that look like an expired instance but lack io.envkit.project stay."""
    fake = {LABEL.EXPIRES: "2000-01-01T00:00:00Z", LABEL.STACK: "x", OWNER: stack.name}
    ctr = docker_client.containers.create(IMAGE, ["true"], labels=fake)
    vol = docker_client.volumes.create(f"{stack.name}-foreign", labels=fake)
    gc = stack.run("gc", "--older-than", "1s")
    assert gc.code == 0, gc.err
    ctr.reload()
    vol.reload()
    assert ctr.name not in gc.out and vol.name not in gc.out


def test_gc_reaps_what_a_plain_down_kept_once_expired(stack: Stack) -> None:
    """down without --volumes keeps the data volumes (and the lease): they still carry the
    expiry, so gc removes them later — a project without containers is found too."""
    up = stack.run("up", "ci", "--instance", "kept", "--ttl", "2s")
    assert up.code == 0, up.err
    down = stack.run("down", "ci", "--instance", "kept")
    assert down.code == 0, down.err
    project = f"{stack.name}-ci-kept"
    assert stack.objects() == {
        "containers": set(),
        "networks": set(),
        "volumes": {f"{project}_data", lease_name(project)},
    }
    time.sleep(3)
    gc = stack.run("gc")
    assert gc.code == 0, gc.err
    assert {f"volume {project}_data", f"volume {lease_name(project)}"} <= set(gc.out.splitlines())
    assert stack.objects() == {"containers": set(), "networks": set(), "volumes": set()}

"""Issue 12 §1 on a real second engine: one stack file with ``dev`` on the local engine and
``release`` on the remote dockerd in namespace envkit-rm, reached over TCP+TLS and over ssh.

envkit runs as a subprocess in the switch namespace (``nsenter --net``), the only place the
remote address is reachable from; the local engine's unix socket works from there too. The
subprocess keeps this machine's REQUESTS_CA_BUNDLE, which would break TLS if the client let
requests read it. What a test makes on the remote engine is removed through its unix socket
afterwards, even when the test fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from envkit.engine.factory import endpoint_of
from envkit.model import EngineSetting
from envkit.reconcile.lock import instance_lock

from .harness import RemoteEngine, in_netns

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "envkit-test/busybox:latest"
LOCAL_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True, slots=True)
class Run:
    code: int
    out: str
    err: str


@dataclass
class Site:
    """A stack folder and the environment envkit runs in."""

    remote: RemoteEngine
    folder: Path
    stack: str
    env: dict[str, str]

    def write(self, release_engine: str, name: str = "envkit.yaml") -> Path:
        path = self.folder / name
        path.write_text(
            f"stack: {self.stack}\n"
            "environments:\n"
            "  dev: {}\n"
            f"  release:\n    engine:\n{release_engine}\n"
            "services:\n"
            "  app:\n"
            f"    image: {IMAGE}\n"
            "    command: [sh, -c, 'sleep 3600']\n"
            "    init: true\n"
            "    ports: ['8080']\n",
            encoding="utf-8",
        )
        return path

    def envkit(self, *args: str, file: str = "envkit.yaml", timeout: float = 120) -> Run:
        done = subprocess.run(
            [
                "nsenter",
                f"--net={self.remote.client_netns}",
                sys.executable,
                "-m",
                "envkit",
                "-f",
                str(self.folder / file),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            cwd=self.folder,
        )
        return Run(done.returncode, done.stdout, done.stderr)


def _tls(folder: Path, certs: Path) -> str:
    """The engine mapping for the TLS engine, its files copied next to the stack file."""
    shutil.copytree(certs, folder / "certs", dirs_exist_ok=True)
    return (
        "      host: tcp://10.231.0.20:2376\n"
        "      tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}"
    )


def _project_containers(client: Any, project: str) -> list[str]:
    found = client.containers.list(all=True, filters={"label": f"io.envkit.project={project}"})
    return sorted(c.name for c in found)


def _remove_project(client: Any, project: str) -> None:
    label = {"label": f"io.envkit.project={project}"}
    for c in client.containers.list(all=True, filters=label):
        c.remove(force=True)
    for n in client.networks.list(filters=label):
        n.remove()
    for v in client.volumes.list(filters=label):
        v.remove(force=True)


@pytest.fixture
def site(remote: RemoteEngine, tmp_path: Path) -> Iterator[Site]:
    stack = f"rm{uuid.uuid4().hex[:8]}"
    home = remote.make_ssh_home(tmp_path / "home")
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT")}
    env.update(
        PYTHONPATH=str(ROOT),
        HOME=str(home),
        ENVKIT_STATE_DIR=str(tmp_path / "state"),
        REQUESTS_CA_BUNDLE=env.get("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"),
    )
    env.pop("SSH_AUTH_SOCK", None)
    folder = tmp_path / "stack"
    folder.mkdir()
    remote_client = docker.DockerClient(base_url=remote.unix_host, timeout=30)
    local_client = docker.DockerClient(base_url=LOCAL_HOST, timeout=30)
    try:
        yield Site(remote, folder, stack, env)
    finally:
        for client in (remote_client, local_client):
            for environment in ("dev", "release"):
                _remove_project(client, f"{stack}-{environment}")
            client.close()


def _round_trip(site: Site) -> None:
    """up release lands on the remote engine only; plan is then empty; ps shows it; down
    removes it; dev stays on the local engine."""
    project = f"{site.stack}-release"
    remote = docker.DockerClient(base_url=site.remote.unix_host, timeout=30)
    local = docker.DockerClient(base_url=LOCAL_HOST, timeout=30)
    try:
        up = site.envkit("up", "release", "--wait")
        assert up.code == 0, up
        assert _project_containers(remote, project) == [f"{project}-app-1"]
        assert _project_containers(local, project) == []

        plan = site.envkit("plan", "release", "--detailed-exitcode")
        assert plan.code == 0, plan
        assert f"No changes. {project} matches the stack." in plan.out

        ps = site.envkit("ps", "release")
        assert ps.code == 0, ps
        assert f"{project}-app-1" in ps.out and "running" in ps.out

        port = site.envkit("port", "release", "app", "8080")
        assert port.code == 0, port
        assert port.out.startswith(f"{site.remote.addr}:"), port.out  # not 0.0.0.0
        variables = site.envkit("env", "release", "--format", "json")
        assert f'"ENVKIT_APP_8080_HOST": "{site.remote.addr}"' in variables.out, variables

        listed = site.envkit("ps", "--engine", site.remote.tls_host.replace("tcp", "ssh", 1))
        assert listed.code == 1  # ssh on port 2376: not an ssh server; a clear error
        assert "Traceback" not in listed.err

        dev = site.envkit("up", "dev", "--wait")
        assert dev.code == 0, dev
        assert _project_containers(local, f"{site.stack}-dev") == [f"{site.stack}-dev-app-1"]
        assert _project_containers(remote, f"{site.stack}-dev") == []
        both = site.envkit("ps")  # the stack on every engine its environments live on
        assert both.code == 0, both
        assert f"{project}-app-1" in both.out and f"{site.stack}-dev-app-1" in both.out

        down = site.envkit("down", "release")
        assert down.code == 0, down
        assert _project_containers(remote, project) == []
        assert _project_containers(local, f"{site.stack}-dev") == [f"{site.stack}-dev-app-1"]
    finally:
        remote.close()
        local.close()


def test_release_on_the_remote_engine_over_tls(site: Site) -> None:
    site.write(_tls(site.folder, site.remote.tls_certs))
    _round_trip(site)


def test_release_on_the_remote_engine_over_ssh(site: Site) -> None:
    site.write(f"      host: {site.remote.ssh_host}")
    _round_trip(site)


def test_ps_and_gc_take_an_engine(site: Site) -> None:
    site.write(_tls(site.folder, site.remote.tls_certs))
    assert site.envkit("up", "release").code == 0
    every = site.envkit("ps", "--all", "--engine", site.remote.ssh_host)
    assert every.code == 0, every
    assert f"{site.stack}-release-app-1" in every.out
    local = site.envkit("ps", "--all")
    assert f"{site.stack}-release" not in local.out
    gc = site.envkit("gc", "--dry-run", "--engine", site.remote.ssh_host)
    assert gc.code == 0, gc  # nothing expired: nothing to do, and no error


def test_one_engine_is_locked_once_whatever_its_spelling(site: Site) -> None:
    certs = site.folder / "certs"
    site.write(_tls(site.folder, site.remote.tls_certs))
    # the same engine, spelled with another case and without the (default TLS) port
    other = site.write(
        "      host: TCP://10.231.0.20\n"
        "      tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}",
        name="other.yaml",
    )
    assert other.exists()
    project = f"{site.stack}-release"
    remote = EngineSetting(
        address="tcp://10.231.0.20:2376",
        tls_ca=str(certs / "ca.pem"),
        tls_cert=str(certs / "cert.pem"),
        tls_key=str(certs / "key.pem"),
    )
    local = endpoint_of(LOCAL_HOST, site.env).identity
    remote_id = endpoint_of(remote, site.env).identity
    assert local != remote_id
    state = {"ENVKIT_STATE_DIR": site.env["ENVKIT_STATE_DIR"]}
    with instance_lock(project, engine_id=remote_id, environment=state):
        held = site.envkit("up", "release", "--lock-timeout", "1", file="other.yaml")
        assert held.code == 1, held
        assert "holds the lock" in held.err and "Traceback" not in held.err
    with instance_lock(project, engine_id=local, environment=state):
        free = site.envkit("up", "release", "--lock-timeout", "1", file="other.yaml")
        assert free.code == 0, free  # the local engine's lock is not the remote one's


def _assert_clear(run: Run, code: str, secrets: list[str]) -> None:
    assert run.code == 1, run
    assert "Traceback" not in run.err
    lines = run.err.strip().splitlines()
    assert f"error[{code}]" in lines[0] or f"[{code}]" in lines[0], run.err
    assert "environment release" in lines[0] and "10.231.0.20" in lines[0], lines[0]
    assert any(line.strip().startswith("hint:") for line in lines[1:]), run.err
    for secret in secrets:
        assert secret not in run.err and secret not in run.out


@pytest.mark.parametrize(
    ("certs", "code"),
    [("tls_wrong_ca", "engine-tls-untrusted"), ("tls_wrong_client", "engine-tls-refused")],
)
def test_wrong_tls_certs_give_a_clear_error(site: Site, certs: str, code: str) -> None:
    folder: Path = getattr(site.remote, certs)
    site.write(_tls(site.folder, folder))
    key = (folder / "key.pem").read_text(encoding="utf-8").splitlines()[1]
    _assert_clear(site.envkit("plan", "release"), code, [key])


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("wrong_key", "engine-ssh-auth"),
        ("unknown_host", "engine-ssh-host-key"),
        ("changed_host_key", "engine-ssh-host-key"),
    ],
)
def test_ssh_refusals_give_a_clear_error(site: Site, setup: str, code: str) -> None:
    home = Path(site.env["HOME"])
    if setup == "wrong_key":
        site.remote.make_ssh_home(home, key=site.remote.ssh_wrong_key)
    elif setup == "unknown_host":
        site.remote.make_ssh_home(home, known_hosts=home / "no-such-file")
    else:
        site.remote.make_ssh_home(home, known_hosts=site.remote.ssh_wrong_known_hosts)
    site.write("      host: ssh://root:hunter2-not-a-password@10.231.0.20")
    run = site.envkit("plan", "release")
    assert run.code == 2 and "engine-password" in run.err  # refused before connecting
    assert "hunter2" not in run.err
    site.write(f"      host: {site.remote.ssh_host}")
    key = site.remote.ssh_key.read_text(encoding="utf-8").splitlines()[1]
    _assert_clear(site.envkit("plan", "release"), code, [key])


def test_the_python_api_uses_the_environments_engine(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process, with REQUESTS_CA_BUNDLE set: up on the remote TLS engine, the port at the
    engine's address, and down; the lock is the remote engine's."""
    import envkit
    from envkit.engine.endpoint import parse_endpoint
    from envkit.reconcile.lock import lock_path

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("ENVKIT_STATE_DIR", site.env["ENVKIT_STATE_DIR"])
    path = site.write(_tls(site.folder, site.remote.tls_certs))
    project = f"{site.stack}-release"
    remote = docker.DockerClient(base_url=site.remote.unix_host, timeout=30)
    try:
        with in_netns(site.remote.client_netns):
            stack = envkit.load(path)
            env = stack.up("release", wait=True)
            assert _project_containers(remote, project) == [f"{project}-app-1"]
            host, port = env.port("app", 8080)
            assert host == site.remote.addr and port > 0
            identity = env.engine.identity
            assert identity == parse_endpoint("tcp://10.231.0.20:2376").identity
            assert lock_path(project, engine_id=identity).exists()
            dev = stack.attach("dev")
            assert dev.engine.identity != identity
            env.down()
        assert _project_containers(remote, project) == []
    finally:
        remote.close()

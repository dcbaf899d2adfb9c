"""The test side of the offline cluster and the remote engine (issue 12).

``scripts/cluster-up.sh`` and ``scripts/remote-engine-up.sh`` write ``KEY=VALUE`` files in
``/run/envkit-cluster`` (``ENVKIT_CLUSTER_RUN`` overrides the folder); this module reads them
into frozen values, enters the cluster's network namespaces for one block of code, and removes
what a test made on the swarm.

The namespace addresses (10.231.0.0/24) exist only inside the cluster's namespaces: a test
reaches them from the switch namespace, the "client seat" at 10.231.0.1, with
``with in_netns(cluster.client_netns): ...``. Entering a network namespace is per thread
(setns(2) with CLONE_NEWNET), so only sockets made inside the block live there; a subprocess
started inside the block inherits it. Unix sockets (the node engines) work from anywhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

__all__ = [
    "OWNER",
    "Cluster",
    "ClusterNode",
    "HarnessMissing",
    "RemoteEngine",
    "in_netns",
    "link_down",
    "load_cluster",
    "load_remote",
    "read_env_file",
    "remove_owned_services",
    "restore_node_logs",
    "wait_until",
]

OWNER = "envkit-test.owner"  # on what a test makes: the cleanup selects by it
RUN_DIR = Path(os.environ.get("ENVKIT_CLUSTER_RUN", "/run/envkit-cluster"))
_CLONE_NEWNET = 0x40000000


class HarnessMissing(Exception):
    """The env file or the engines the scripts set up are not there."""


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines (no quoting, ``#`` comments) as written by the scripts."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HarnessMissing(f"{path} does not exist") from None
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.isidentifier():
            raise HarnessMissing(f"{path}:{number}: not a KEY=VALUE line: {line!r}")
        values[key] = value
    return values


@contextlib.contextmanager
def in_netns(path: str) -> Iterator[None]:
    """Run the block with the calling thread in the network namespace at ``path``."""
    libc = ctypes.CDLL(None, use_errno=True)
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(path, os.O_RDONLY)
        try:
            if libc.setns(target, _CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"setns({path}): {os.strerror(err)}")
        finally:
            os.close(target)
        try:
            yield
        finally:
            if libc.setns(home, _CLONE_NEWNET) != 0:  # pragma: no cover - would be fatal
                err = ctypes.get_errno()
                raise OSError(
                    err, f"cannot return to the test's network namespace: {os.strerror(err)}"
                )
    finally:
        os.close(home)


@contextlib.contextmanager
def link_down(cluster: Cluster, node: ClusterNode) -> Iterator[None]:
    """Cut ``node`` off the switch for the block (its veth end on the switch goes down),
    and afterwards put it back as it was, even when the block fails: the link up, the node
    Ready, and its logs readable through the manager (see :func:`restore_node_logs`)."""
    switch = Path(cluster.client_netns).name

    def link(state: str) -> None:
        subprocess.run(
            ["ip", "-n", switch, "link", "set", node.name, state], check=True, capture_output=True
        )

    link("down")
    try:
        yield
    finally:
        link("up")
        restore_node_logs(cluster, node)


def _node_state(manager: Any, node: ClusterNode) -> str:
    for n in manager.api.nodes():
        if (n.get("Description") or {}).get("Hostname") == node.hostname:
            return str((n.get("Status") or {}).get("State", ""))
    return ""


def _logs_readable(cluster: Cluster, manager: Any, node: ClusterNode) -> bool:
    """A one-shot task on ``node`` writes a line; the manager's service log must give it
    back with no word of its own (stream 3: "node ... is not available")."""
    api = manager.api
    service = api.create_service(
        docker.types.TaskTemplate(
            docker.types.ContainerSpec(cluster.image, ["echo", "envkit-log-probe"]),
            restart_policy=docker.types.RestartPolicy(condition="none"),
            placement=docker.types.Placement(constraints=[f"node.hostname=={node.hostname}"]),
        ),
        name=f"envkit-log-probe-{node.name}-{os.getpid()}-{time.monotonic_ns() % 10**6}",
        labels={OWNER: "log-probe"},
    )["ID"]
    try:
        wait_until(
            f"the log probe to run on {node.hostname}",
            lambda: any(
                t["Status"]["State"] == "complete" for t in api.tasks({"service": service})
            ),
            timeout=30,
        )
        raw = api._get(
            api._url("/services/{0}/logs", service),
            params={"stdout": 1, "stderr": 1},
            stream=False,
            timeout=10,
        ).content
        frames, i = [], 0
        while i + 8 <= len(raw):
            size = int.from_bytes(raw[i + 4 : i + 8], "big")
            frames.append((raw[i], raw[i + 8 : i + 8 + size]))
            i += 8 + size
        return any(b"envkit-log-probe" in d for _, d in frames) and all(s != 3 for s, _ in frames)
    except (AssertionError, docker.errors.DockerException, OSError):
        return False
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_service(service)


def restore_node_logs(
    cluster: Cluster, node: ClusterNode, timeout: float = 60.0, *, restart: bool = False
) -> None:
    """Wait until ``node`` is Ready and the manager reads its logs again. A node that was
    cut off sometimes comes back Ready while the manager's log broker has lost it for good
    (moby/moby#35011: every later service log with a task there says "node ... is not
    available"); the remedy is a restart of that node's engine
    (``scripts/cluster-node-restart.sh``), so one test's cut does not break the next
    test's logs. ``restart``: restart the engine without asking the log broker first
    (the test of that remedy)."""
    manager = docker.DockerClient(base_url=cluster.manager_host, timeout=30)
    try:
        wait_until(f"{node.hostname} to be ready", lambda: _node_state(manager, node) == "ready",
                   timeout=timeout)  # fmt: skip
        deadline = time.monotonic() + (0 if restart else 20)
        while time.monotonic() < deadline:
            if _logs_readable(cluster, manager, node):
                return
            time.sleep(1)
        script = Path(__file__).resolve().parents[2] / "scripts" / "cluster-node-restart.sh"
        done = subprocess.run(
            ["bash", str(script), node.name], capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, f"{script.name} {node.name} failed:\n{done.stderr}"
        wait_until(f"{node.hostname} to be ready", lambda: _node_state(manager, node) == "ready",
                   timeout=timeout)  # fmt: skip
        wait_until(
            f"the manager to read the logs of {node.hostname} after its engine restarted",
            lambda: _logs_readable(cluster, manager, node),
            timeout=timeout,
            interval=1,
        )
    finally:
        manager.close()


def _require(values: dict[str, str], path: Path, *keys: str) -> None:
    missing = [k for k in keys if not values.get(k)]
    if missing:
        raise HarnessMissing(f"{path} lacks {', '.join(missing)}")


@dataclass(frozen=True, slots=True)
class ClusterNode:
    name: str  # n1, n2, n3
    host: str  # unix:///run/envkit-cluster/n1.sock
    addr: str  # 10.231.0.11
    netns: str  # /run/netns/envkit-n1

    @property
    def hostname(self) -> str:
        """The node's hostname as Swarm reports it (node.hostname constraints)."""
        return f"envkit-{self.name}"

    def client(self) -> Any:
        return docker.DockerClient(base_url=self.host, timeout=30)


@dataclass(frozen=True, slots=True)
class Cluster:
    nodes: tuple[ClusterNode, ...]
    manager_host: str
    client_netns: str  # the switch namespace, where a test sits as a client
    client_addr: str
    image: str  # loaded into every node
    registry: str  # 127.0.0.1:5000 inside every node's namespace, one shared storage
    registry_image: str


def load_cluster(run_dir: Path = RUN_DIR) -> Cluster:
    path = run_dir / "cluster.env"
    v = read_env_file(path)
    _require(v, path, "ENVKIT_CLUSTER_NODES", "ENVKIT_CLUSTER_MANAGER_HOST")
    nodes = []
    for name in v["ENVKIT_CLUSTER_NODES"].split():
        p = f"ENVKIT_CLUSTER_{name.upper()}_"
        _require(v, path, p + "HOST", p + "ADDR", p + "NETNS")
        nodes.append(ClusterNode(name, v[p + "HOST"], v[p + "ADDR"], v[p + "NETNS"]))
    _require(
        v,
        path,
        "ENVKIT_CLUSTER_CLIENT_NETNS",
        "ENVKIT_CLUSTER_IMAGE",
        "ENVKIT_CLUSTER_REGISTRY_IMAGE",
    )
    return Cluster(
        nodes=tuple(nodes),
        manager_host=v["ENVKIT_CLUSTER_MANAGER_HOST"],
        client_netns=v["ENVKIT_CLUSTER_CLIENT_NETNS"],
        client_addr=v.get("ENVKIT_CLUSTER_CLIENT_ADDR", ""),
        image=v["ENVKIT_CLUSTER_IMAGE"],
        registry=v.get("ENVKIT_CLUSTER_REGISTRY", ""),
        registry_image=v["ENVKIT_CLUSTER_REGISTRY_IMAGE"],
    )


@dataclass(frozen=True, slots=True)
class RemoteEngine:
    """The engine in namespace envkit-rm and the credentials to reach it, right and wrong."""

    addr: str
    client_netns: str
    unix_host: str
    tls_host: str  # tcp://10.231.0.20:2376
    tls_certs: Path  # DOCKER_CERT_PATH-shaped: ca.pem, cert.pem, key.pem
    tls_wrong_ca: Path  # trusts a rogue CA: the client rejects the server
    tls_wrong_client: Path  # client cert from the rogue CA: the server rejects the client
    ssh_host: str  # ssh://root@10.231.0.20
    ssh_key: Path
    ssh_wrong_key: Path
    ssh_known_hosts: Path
    ssh_wrong_known_hosts: Path  # another host key for the same address
    ssh_config: Path  # for `ssh -F`
    ssh_home: Path  # HOME with .ssh/config and .ssh/known_hosts for the SDK's paramiko
    ssh_bin: Path  # holds `ssh` = ssh -F ssh_config: first on PATH for use_ssh_client

    def tls_config(self, certs: Path | None = None) -> Any:
        d = certs or self.tls_certs
        return docker.tls.TLSConfig(
            client_cert=(str(d / "cert.pem"), str(d / "key.pem")),
            ca_cert=str(d / "ca.pem"),
            verify=True,
        )

    def make_ssh_home(
        self, home: Path, *, key: Path | None = None, known_hosts: Path | None = None
    ) -> Path:
        """A HOME for the SDK's paramiko transport (it reads only ~/.ssh/config and
        ~/.ssh/known_hosts) with the given key and known_hosts (an empty one when the
        file given does not exist: an unknown host)."""
        ssh = home / ".ssh"
        ssh.mkdir(mode=0o700, parents=True, exist_ok=True)
        ssh.joinpath("config").write_text(
            f"Host {self.addr}\n    User root\n    IdentityFile {key or self.ssh_key}\n",
            encoding="utf-8",
        )
        kh = known_hosts or self.ssh_known_hosts
        ssh.joinpath("known_hosts").write_text(
            kh.read_text(encoding="utf-8") if kh.exists() else "", encoding="utf-8"
        )
        return home


def load_remote(run_dir: Path = RUN_DIR) -> RemoteEngine:
    path = run_dir / "remote.env"
    v = read_env_file(path)

    def get(key: str) -> str:
        _require(v, path, f"ENVKIT_REMOTE_{key}")
        return v[f"ENVKIT_REMOTE_{key}"]

    return RemoteEngine(
        addr=get("ADDR"),
        client_netns=get("CLIENT_NETNS"),
        unix_host=get("UNIX_HOST"),
        tls_host=get("TLS_HOST"),
        tls_certs=Path(get("TLS_CERTS")),
        tls_wrong_ca=Path(get("TLS_WRONG_CA")),
        tls_wrong_client=Path(get("TLS_WRONG_CLIENT")),
        ssh_host=get("SSH_HOST"),
        ssh_key=Path(get("SSH_KEY")),
        ssh_wrong_key=Path(get("SSH_WRONG_KEY")),
        ssh_known_hosts=Path(get("SSH_KNOWN_HOSTS")),
        ssh_wrong_known_hosts=Path(get("SSH_WRONG_KNOWN_HOSTS")),
        ssh_config=Path(get("SSH_CONFIG")),
        ssh_home=Path(get("SSH_HOME")),
        ssh_bin=Path(get("SSH_BIN")),
    )


def wait_until(
    what: str, check: Callable[[], Any], timeout: float = 60.0, interval: float = 0.3
) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` and the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})"
            )
        time.sleep(interval)


def remove_owned_services(
    manager: Any, nodes: tuple[ClusterNode, ...], owner: str, timeout: float = 30.0
) -> None:
    """Remove every service and network labelled ``OWNER=owner``, waiting until the services'
    containers are gone from every node first (Swarm removes them asynchronously, and a
    network still in use cannot go)."""
    api = manager.api
    selector = {"label": f"{OWNER}={owner}"}
    names = []
    for svc in api.services(filters=selector):
        names.append(svc["Spec"]["Name"])
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_service(svc["ID"])
    clients = [n.client() for n in nodes]
    try:

        def containers_left() -> list[str]:
            left = []
            for c in clients:
                for name in names:
                    f = {"label": f"com.docker.swarm.service.name={name}"}
                    left += [x["Id"][:12] for x in c.api.containers(all=True, filters=f)]
            return left

        if names:
            wait_until("the services' containers to go", lambda: not containers_left(), timeout)
    finally:
        for c in clients:
            c.close()
    for net in api.networks(filters=selector):
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_network(net["Id"])

"""The cluster harness itself works: 3 Swarm nodes, services across them, node registries,
and a remote engine over TLS and ssh that refuses wrong credentials. Talks to the engines with
the docker SDK directly (envkit's Swarm engine and engine factory build on this harness)."""

from __future__ import annotations

import contextlib
import http.client
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import docker
import paramiko
import pytest

from .harness import (
    OWNER,
    RUN_DIR,
    Cluster,
    RemoteEngine,
    in_netns,
    link_down,
    remove_owned_services,
    restore_node_logs,
    wait_until,
)

# busybox as PID 1 ignores SIGTERM: without this each task takes 10 s to stop at cleanup.
FAST_STOP = 500_000_000  # ns


def _running_tasks(manager: Any, service: str) -> list[dict[str, Any]]:
    tasks = manager.api.tasks(filters={"service": service, "desired-state": "running"})
    return [t for t in tasks if t["Status"]["State"] == "running"]


def _http_get(addr: str, port: int, path: str) -> str:
    conn = http.client.HTTPConnection(addr, port, timeout=3)  # no proxy, unlike urllib
    try:
        conn.request("GET", path)
        return conn.getresponse().read().decode().strip()
    finally:
        conn.close()


def test_three_nodes_are_ready_in_one_swarm(cluster: Cluster, manager: Any) -> None:
    nodes = manager.nodes.list()
    assert sorted(n.attrs["Description"]["Hostname"] for n in nodes) == [
        n.hostname for n in cluster.nodes
    ]
    assert {n.attrs["Status"]["State"] for n in nodes} == {"ready"}
    assert {n.attrs["Spec"]["Availability"] for n in nodes} == {"active"}
    by_host = {n.attrs["Description"]["Hostname"]: n.attrs for n in nodes}
    assert by_host["envkit-n1"]["ManagerStatus"]["Leader"] is True
    engine_ids = set()
    for node in cluster.nodes:
        attrs = by_host[node.hostname]
        assert attrs["Status"]["Addr"] == node.addr
        assert attrs["Spec"]["Labels"] == {"envkit.node": node.name}
        client = node.client()
        try:  # each node's own engine answers and has the test image without a registry
            info = client.info()
            assert info["Swarm"]["NodeAddr"] == node.addr
            engine_ids.add(info["ID"])
            client.images.get(cluster.image)
        finally:
            client.close()
    # Each engine has its own identity (own trust key), distinct from the host engine's.
    host = docker.from_env()
    try:
        assert len(engine_ids) == 3 and host.info()["ID"] not in engine_ids
    finally:
        host.close()


def test_cluster_namespaces_have_no_way_out(cluster: Cluster) -> None:
    # No default route anywhere: nothing a node (or a test sitting in the switch) sends can
    # leave the namespaces. (From the host's own namespace these addresses must not be used:
    # they would be routed to the host's gateway.)
    for netns in [cluster.client_netns, *(n.netns for n in cluster.nodes)]:
        name = Path(netns).name
        routes = subprocess.run(
            ["ip", "-n", name, "route", "show"], capture_output=True, text=True, check=True
        )
        assert "default" not in routes.stdout, (name, routes.stdout)
        assert "10.231.0.0/24 dev " in routes.stdout, (name, routes.stdout)
        out = subprocess.run(
            ["ip", "-n", name, "route", "get", "192.0.2.1"], capture_output=True, text=True
        )
        assert out.returncode != 0 and "unreachable" in out.stderr, (name, out)


def test_in_netns_enters_for_the_block_and_returns_even_on_error(cluster: Cluster) -> None:
    own = os.readlink("/proc/thread-self/ns/net")
    switch = f"net:[{os.stat(cluster.client_netns).st_ino}]"
    assert own != switch
    with pytest.raises(RuntimeError), in_netns(cluster.client_netns):
        assert os.readlink("/proc/thread-self/ns/net") == switch
        raise RuntimeError("boom")
    assert os.readlink("/proc/thread-self/ns/net") == own


def test_a_node_cut_off_the_switch_goes_down_and_comes_back(cluster: Cluster, manager: Any) -> None:
    n3 = cluster.nodes[2]

    def state() -> str:
        return str(
            next(n for n in manager.nodes.list() if n.attrs["Status"]["Addr"] == n3.addr).attrs[
                "Status"
            ]["State"]
        )

    with link_down(cluster, n3):
        wait_until(f"{n3.hostname} to be seen down", lambda: state() == "down", timeout=60)
    assert state() == "ready"  # link_down waits for it, and for the node's logs


def test_restoring_a_node_by_restarting_its_engine_keeps_it_in_the_swarm(
    cluster: Cluster, manager: Any
) -> None:
    # The remedy link_down falls back on when the manager has lost a node's log session.
    n3 = cluster.nodes[2]
    pid = (RUN_DIR / n3.name / "dockerd.pid").read_text(encoding="utf-8")
    restore_node_logs(cluster, n3, restart=True)  # fails unless Ready and its logs readable
    assert (RUN_DIR / n3.name / "dockerd.pid").read_text(encoding="utf-8") != pid
    states = sorted(n["Status"]["State"] for n in manager.api.nodes())
    assert states == ["ready", "ready", "ready"]


def test_dnsrr_service_with_host_ports_runs_on_every_node_and_answers_on_its_address(
    cluster: Cluster, manager: Any, owner: str
) -> None:
    # No IPVS in this kernel: VIP and the ingress mesh cannot work, so dnsrr + host-mode ports.
    port = random.randint(20000, 29999)
    name = f"{owner}-web"
    manager.services.create(
        cluster.image,
        name=name,
        command=[
            "sh",
            "-c",
            "mkdir -p /www && hostname >/www/node && exec httpd -f -p 8080 -h /www",
        ],
        hostname="{{.Node.Hostname}}",
        labels={OWNER: owner},
        container_labels={OWNER: owner},
        stop_grace_period=FAST_STOP,
        mode=docker.types.ServiceMode("replicated", replicas=3),
        endpoint_spec=docker.types.EndpointSpec(mode="dnsrr", ports={port: (8080, "tcp", "host")}),
        maxreplicas=1,
    )
    tasks = wait_until(
        "3 running tasks",
        lambda: len(_running_tasks(manager, name)) == 3 and _running_tasks(manager, name),
    )
    node_ids = {n.attrs["ID"]: n.attrs["Description"]["Hostname"] for n in manager.nodes.list()}
    assert sorted(node_ids[t["NodeID"]] for t in tasks) == [n.hostname for n in cluster.nodes]

    def answers(netns: str) -> dict[str, str]:
        got = {}
        with in_netns(netns):  # the node addresses exist only inside the cluster's namespaces
            for node in cluster.nodes:
                try:
                    got[node.hostname] = _http_get(node.addr, port, "/node")
                except OSError as exc:
                    got[node.hostname] = repr(exc)
        return got

    expected = {n.hostname: n.hostname for n in cluster.nodes}
    # From the switch (the client seat) and from inside node 1 (node to node).
    for netns in (cluster.client_netns, cluster.nodes[0].netns):
        seen: dict[str, str] = {}

        def all_answer(netns: str = netns, seen: dict[str, str] = seen) -> bool:
            seen.clear()
            seen.update(answers(netns))
            return seen == expected

        try:
            wait_until(
                f"each node to answer from {netns} with its own task", all_answer, timeout=20
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}; answers: {seen}") from None


def test_node_registries_share_one_storage(cluster: Cluster, manager: Any, owner: str) -> None:
    # Push through n1's registry; each node pulls from the registry in its own namespace.
    repo = f"{cluster.registry_image.rsplit('/', 1)[0]}/{owner}"
    image = manager.images.get(cluster.image)
    assert image.tag(repo, "v1")
    try:
        for line in manager.images.push(repo, "v1", stream=True, decode=True):
            assert "error" not in line, line
        name = f"{owner}-pull"
        manager.services.create(
            f"{repo}:v1",
            name=name,
            labels={OWNER: owner},
            container_labels={OWNER: owner},
            stop_grace_period=FAST_STOP,
            mode=docker.types.ServiceMode("global"),
            endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"),
        )
        wait_until(
            "a running task on each node",
            lambda: len(_running_tasks(manager, name)) == len(cluster.nodes),
        )
        for node in cluster.nodes:
            client = node.client()
            try:
                assert f"{repo}:v1" in client.images.get(f"{repo}:v1").tags
            finally:
                client.close()
    finally:  # the service first (a running task keeps its image), then the pulled tags
        remove_owned_services(manager, cluster.nodes, owner)
        for node in cluster.nodes:
            client = node.client()
            try:
                with contextlib.suppress(docker.errors.ImageNotFound):
                    client.images.remove(f"{repo}:v1")
            finally:
                client.close()


# --- the remote engine -------------------------------------------------------------------


def test_tls_engine_answers_with_the_right_certs(remote: RemoteEngine, tls_env: None) -> None:
    with in_netns(remote.client_netns):
        client = docker.DockerClient(base_url=remote.tls_host, tls=remote.tls_config(), timeout=10)
        try:
            assert client.info()["Name"] == "envkit-rm"
        finally:
            client.close()


@pytest.mark.parametrize(
    ("certs", "refusal"),
    [
        ("tls_wrong_ca", r"CERTIFICATE_VERIFY_FAILED"),  # the client does not trust the server
        ("tls_wrong_client", r"(?i)certificate|alert|reset|EOF"),  # the server refuses the client
    ],
)
def test_tls_engine_refuses_wrong_certs(
    remote: RemoteEngine, tls_env: None, certs: str, refusal: str
) -> None:
    with in_netns(remote.client_netns), pytest.raises(docker.errors.DockerException, match=refusal):
        docker.DockerClient(
            base_url=remote.tls_host, tls=remote.tls_config(getattr(remote, certs)), timeout=10
        )


def test_tls_engine_refuses_a_client_without_cert(remote: RemoteEngine, tls_env: None) -> None:
    tls = docker.tls.TLSConfig(ca_cert=str(remote.tls_certs / "ca.pem"), verify=True)
    with in_netns(remote.client_netns), pytest.raises(docker.errors.DockerException):
        docker.DockerClient(base_url=remote.tls_host, tls=tls, timeout=10)


def test_sdk_tls_ca_is_overridden_by_requests_ca_bundle(
    remote: RemoteEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pitfall for envkit's engine factory, pinned here: requests lets REQUESTS_CA_BUNDLE (set
    on many machines, this one included) replace the CA of the SDK's TLSConfig, so the right
    certs fail. The engine must build its client with ``trust_env = False`` (or without the
    variable). When this test fails, requests has changed and the workaround can go."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    with in_netns(remote.client_netns):
        with pytest.raises(docker.errors.DockerException, match="CERTIFICATE_VERIFY_FAILED"):
            docker.DockerClient(base_url=remote.tls_host, tls=remote.tls_config(), timeout=10)
        client = docker.DockerClient(
            base_url=remote.tls_host, tls=remote.tls_config(), timeout=10, version="1.41"
        )
        client.api.trust_env = False  # the workaround
        try:
            assert client.info()["Name"] == "envkit-rm"
        finally:
            client.close()


def test_ssh_engine_answers_with_the_right_key_over_paramiko(
    remote: RemoteEngine, ssh_env: Path
) -> None:
    remote.make_ssh_home(ssh_env)
    with in_netns(remote.client_netns):
        client = docker.DockerClient(base_url=remote.ssh_host, timeout=10)
        try:  # the session's DOCKER_HOST (sshd's SetEnv) leads to the remote engine, not the host's
            assert client.info()["Name"] == "envkit-rm"
        finally:
            client.close()


def test_ssh_engine_answers_over_the_ssh_client(
    remote: RemoteEngine, ssh_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", f"{remote.ssh_bin}{os.pathsep}{os.environ['PATH']}")
    with in_netns(remote.client_netns):
        client = docker.DockerClient(base_url=remote.ssh_host, use_ssh_client=True, timeout=10)
        try:
            assert client.info()["Name"] == "envkit-rm"
        finally:
            client.close()
        out = subprocess.run(
            ["docker", "-H", remote.ssh_host, "info", "--format", "{{.Name}}"],
            capture_output=True, text=True, timeout=30, check=True,
        )  # fmt: skip
    assert out.stdout.strip() == "envkit-rm"


@pytest.mark.parametrize(
    ("setup", "refusal"),
    [
        ("wrong_key", paramiko.AuthenticationException),
        ("unknown_host", paramiko.SSHException),  # not in known_hosts: RejectPolicy
        ("changed_host_key", paramiko.BadHostKeyException),
    ],
)
def test_ssh_engine_refuses(
    remote: RemoteEngine, ssh_env: Path, setup: str, refusal: type[Exception]
) -> None:
    if setup == "wrong_key":
        remote.make_ssh_home(ssh_env, key=remote.ssh_wrong_key)
    elif setup == "unknown_host":
        remote.make_ssh_home(ssh_env, known_hosts=ssh_env / "no-such-file")
    else:
        remote.make_ssh_home(ssh_env, known_hosts=remote.ssh_wrong_known_hosts)
    with in_netns(remote.client_netns), pytest.raises(refusal) as caught:
        docker.DockerClient(base_url=remote.ssh_host, timeout=10)
    if refusal is paramiko.SSHException:
        assert "known_hosts" in str(caught.value)


@pytest.mark.parametrize(
    ("setup", "refusal"),
    [
        ("wrong_key", "Permission denied (publickey)"),
        ("unknown_host", "Host key verification failed"),
        ("changed_host_key", "REMOTE HOST IDENTIFICATION HAS CHANGED"),
    ],
)
def test_ssh_client_refuses(remote: RemoteEngine, tmp_path: Path, setup: str, refusal: str) -> None:
    config = remote.ssh_config.read_text(encoding="utf-8")
    if setup == "wrong_key":
        config = config.replace(str(remote.ssh_key), str(remote.ssh_wrong_key))
    else:
        known = "/dev/null" if setup == "unknown_host" else str(remote.ssh_wrong_known_hosts)
        config = config.replace(str(remote.ssh_known_hosts), known)
    (tmp_path / "ssh_config").write_text(config, encoding="utf-8")
    out = subprocess.run(
        ["nsenter", f"--net={remote.client_netns}", "ssh", "-F", str(tmp_path / "ssh_config"),
         "envkit-remote", "docker", "version"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.returncode == 255, out
    assert refusal in out.stderr


def test_cleanup_removes_owned_services_networks_and_their_containers(
    cluster: Cluster, manager: Any
) -> None:
    other = f"c{random.randint(0, 1 << 32):08x}"  # not the owner fixture's: this test cleans itself
    try:
        net = manager.networks.create(
            f"{other}-net", driver="overlay", attachable=True, labels={OWNER: other}
        )
        manager.services.create(
            cluster.image,
            name=f"{other}-svc",
            labels={OWNER: other},
            networks=[net.id],
            stop_grace_period=FAST_STOP,
            mode=docker.types.ServiceMode("global"),
            endpoint_spec=docker.types.EndpointSpec(mode="dnsrr"),
        )
        wait_until(
            "a running task on each node", lambda: len(_running_tasks(manager, f"{other}-svc")) == 3
        )
    finally:
        remove_owned_services(manager, cluster.nodes, other)
    selector = {"label": f"{OWNER}={other}"}
    assert manager.api.services(filters=selector) == []
    assert manager.api.networks(filters=selector) == []
    for node in cluster.nodes:
        client = node.client()
        try:
            f = {"label": f"com.docker.swarm.service.name={other}-svc"}
            assert client.api.containers(all=True, filters=f) == []
        finally:
            client.close()

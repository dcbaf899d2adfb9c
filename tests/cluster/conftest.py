"""Fixtures for the tests on the offline 3-node Swarm cluster and the remote engine (issue 12).

Both are set up outside pytest, as root, by ``scripts/cluster-setup.sh`` (CI) or by hand with
``sudo scripts/cluster-up.sh`` and ``sudo scripts/remote-engine-up.sh``; they write env files
in /run/envkit-cluster that these fixtures read. A missing cluster or remote engine fails the
tests that need it (in CI and locally), never skips them: deselect with ``-m 'not cluster'``.

Every test here is marked ``cluster``. What a test makes on the swarm carries the label
``envkit-test.owner=<owner>`` (the ``owner`` fixture) and is removed afterwards, even when
the test fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from .harness import (
    Cluster,
    HarnessMissing,
    RemoteEngine,
    load_cluster,
    load_remote,
    remove_owned_services,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cluster)


def _answers(host: str) -> dict[str, Any]:
    client = docker.DockerClient(base_url=host, timeout=10)
    try:
        return dict(client.info())
    finally:
        client.close()


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    try:
        c = load_cluster()
        info = _answers(c.manager_host)
    except (HarnessMissing, docker.errors.DockerException) as exc:
        pytest.fail(
            f"no test cluster ({exc}); start it with `sudo scripts/cluster-up.sh`", pytrace=False
        )
    if info.get("Swarm", {}).get("LocalNodeState") != "active":
        pytest.fail(
            f"{c.manager_host} is not in a swarm; restart the cluster with "
            "`sudo scripts/cluster-down.sh && sudo scripts/cluster-up.sh`",
            pytrace=False,
        )
    return c


@pytest.fixture(scope="session")
def manager(cluster: Cluster) -> Iterator[Any]:
    """A docker client on the swarm manager (node n1)."""
    client = docker.DockerClient(base_url=cluster.manager_host, timeout=30)
    yield client
    client.close()


@pytest.fixture
def owner(cluster: Cluster, manager: Any) -> Iterator[str]:
    """A unique owner label value for one test; its services and networks go afterwards."""
    value = f"t{uuid.uuid4().hex[:8]}"
    try:
        yield value
    finally:
        remove_owned_services(manager, cluster.nodes, value)


@pytest.fixture(scope="session")
def remote() -> RemoteEngine:
    try:
        r = load_remote()
        _answers(r.unix_host)
    except (HarnessMissing, docker.errors.DockerException) as exc:
        pytest.fail(
            f"no remote test engine ({exc}); start it with `sudo scripts/remote-engine-up.sh`",
            pytrace=False,
        )
    return r


@pytest.fixture
def tls_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE: requests lets them override the CA that
    the docker SDK's TLSConfig sets (see test_sdk_tls_ca_is_overridden_by_requests_ca_bundle)."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@pytest.fixture
def ssh_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty HOME without an ssh agent; returns the HOME folder to fill."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home

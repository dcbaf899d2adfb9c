"""On the live engine, the SDK-free list calls (raw GETs on the unix socket) read the same
observed state as the docker SDK: the no-op path sees whatever a full run would see."""

from __future__ import annotations

from typing import Any

from envkit.engine.docker import DockerEngine
from envkit.model import LABEL, PortSpec
from envkit.progress import NullReporter
from envkit.reconcile.apply import apply

from .conftest import Project, svc


def _pair() -> tuple[DockerEngine, DockerEngine]:
    raw, sdk = DockerEngine.from_env(), DockerEngine.from_env()
    sdk._api()  # the SDK loaded: its lists go through it
    assert raw._lists.reader() is not None and sdk._lists.reader() is None
    return raw, sdk


def test_raw_observe_equals_sdk_observe(project: Project, docker_client: Any) -> None:
    web = svc("web", ports=(PortSpec(8080, host_ip="127.0.0.1"),), replicas=2)
    desired = project.desired(web, svc("db"), volumes=("data",))
    raw, sdk = _pair()
    try:
        apply(project.create_plan(desired), sdk, NullReporter())
        # Drift a full run must notice: one container stopped, one removed by hand.
        docker_client.containers.get(f"{project.name}-web-2").stop(timeout=0)
        docker_client.containers.get(f"{project.name}-db-1").remove(force=True)
        by_raw, by_sdk = raw.observe(desired), sdk.observe(desired)
        assert by_raw == by_sdk
        states = {c.name: c.state for c in by_raw.containers}
        assert states == {f"{project.name}-web-1": "running", f"{project.name}-web-2": "exited"}
        labels: dict[str, str | None] = {LABEL.PROJECT: project.name}
        assert raw.list_containers(labels) == sdk.list_containers(labels)
        assert raw.list_networks(labels) == sdk.list_networks(labels)
        assert raw.list_volumes(labels) == sdk.list_volumes(labels)
    finally:
        raw.close()
        sdk.close()

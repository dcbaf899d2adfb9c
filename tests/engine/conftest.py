"""Fixtures for the tests that run against the real Docker engine.

Each test gets its own project (stack ``t<8 hex>``, environment ``e``) and everything
carrying its ``io.envkit.project`` label — or the ``envkit-test.owner`` label the tests put
on the foreign objects they make — is removed afterwards, even when the test fails.
A missing engine fails the session (in CI and locally): run ``scripts/engine-up.sh``.
"""

from __future__ import annotations

import contextlib
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest

from envkit.engine.docker import DockerEngine
from envkit.model import LABEL, DesiredState, ServiceSpec, VolumeSpec, container_name
from envkit.plan import Action, Change, Plan, ResourceKind

IMAGE = "envkit-test/busybox:latest"
OWNER = "envkit-test.owner"  # on foreign objects a test makes: not an envkit label
ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.engine)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # never a skip: a missing engine is a failure
        pytest.fail(
            f"no Docker engine answers ({exc}); start one with `sudo scripts/engine-up.sh`",
            pytrace=False,
        )
    try:
        client.images.get(IMAGE)
    except docker.errors.ImageNotFound:
        subprocess.run([str(ROOT / "scripts" / "build-test-images.sh")], check=True)
    yield client
    client.close()


@pytest.fixture(scope="session", autouse=True)
def _engine_answers(docker_client: Any) -> None:
    """Autouse: the whole engine suite fails at once when there is no engine."""


@pytest.fixture
def engine() -> Iterator[DockerEngine]:
    eng = DockerEngine.from_env()
    yield eng
    eng.close()


@dataclass
class Project:
    """A unique project for one test, and hand-made desired states and plans for it."""

    stack: str
    env: str = "e"
    client: Any = None
    foreign: list[Any] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.stack}-{self.env}"

    def desired(self, *services: ServiceSpec, volumes: tuple[str, ...] = ()) -> DesiredState:
        return DesiredState(
            stack=self.stack,
            environment=self.env,
            instance=None,
            services=services,
            volumes=tuple(VolumeSpec(v) for v in volumes),
        )

    def create_plan(self, desired: DesiredState, *, infra: bool = True) -> Plan:
        """Everything to create, as a fresh `up` would plan it."""
        changes: list[Change] = []
        if infra:
            changes.append(Change(ResourceKind.NETWORK, desired.network, Action.CREATE))
            changes += [
                Change(ResourceKind.VOLUME, desired.volume_name(v.name), Action.CREATE)
                for v in desired.volumes
            ]
        for svc in desired.services:
            for r in range(1, svc.replicas + 1):
                changes.append(
                    Change(
                        ResourceKind.CONTAINER,
                        container_name(desired.project, svc.name, r),
                        Action.CREATE,
                        service=svc.name,
                        replica=r,
                        after=svc,
                    )
                )
        return Plan(desired, tuple(changes))

    def label(self) -> dict[str, str]:
        """Labels for a foreign object this test makes (cleaned up, but not envkit's)."""
        return {OWNER: self.name}

    def cleanup(self) -> None:
        c = self.client
        for selector in (f"{LABEL.PROJECT}={self.name}", f"{OWNER}={self.name}"):
            for ctr in c.containers.list(all=True, filters={"label": selector}):
                _quietly(ctr.remove, force=True, v=True)
            for net in c.networks.list(filters={"label": selector}):
                _quietly(net.remove)
            for vol in c.volumes.list(filters={"label": selector}):
                _quietly(vol.remove, force=True)


def _quietly(fn: Any, **kwargs: Any) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        fn(**kwargs)


@pytest.fixture
def project(docker_client: Any) -> Iterator[Project]:
    proj = Project(stack=f"t{uuid.uuid4().hex[:8]}", client=docker_client)
    try:
        yield proj
    finally:
        proj.cleanup()


def svc(
    name: str, *, command: tuple[str, ...] | None = ("sleep", "3600"), **kw: Any
) -> ServiceSpec:
    """A busybox service. busybox as PID 1 ignores SIGTERM: an init forwards it, and a
    short grace period bounds the rest, so stopping never costs the default 10 s."""
    kw.setdefault("stop_grace_period_s", 1)
    kw.setdefault("init", True)
    return ServiceSpec(name=name, image=IMAGE, command=command, **kw)

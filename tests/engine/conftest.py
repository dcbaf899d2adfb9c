"""Fixtures for the tests that run against the real Docker engine.

Each test gets its own project (stack ``t<8 hex>``, environment ``e``) and everything
carrying its ``io.envkit.project`` label — or the ``envkit-test.owner`` label the tests put
on the foreign objects they make — is removed afterwards, even when the test fails.
A missing engine fails the session (in CI and locally): run ``scripts/engine-up.sh``.
"""

from __future__ import annotations

import contextlib
import json
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
from envkit.reconcile.changes import Action, Change, Plan
from envkit.reconcile.plan import ResourceKind

from .cleanup import remove_labelled

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
        remove_labelled(self.client, f"{LABEL.PROJECT}={self.name}", f"{OWNER}={self.name}")


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


# -- whole stacks through the CLI --------------------------------------------------------


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


@dataclass
class StackFile:
    """A unique stack (``t<8 hex>``) written to a temporary directory, run through
    ``envkit.cli.main`` in-process or as a subprocess. Everything labelled with the stack
    (every environment and instance of it) is removed afterwards, even when the test fails."""

    name: str
    dir: Path
    client: Any

    @property
    def path(self) -> Path:
        return self.dir / "envkit.yaml"

    def write(self, body: str) -> Path:
        """Write the stack file: ``body`` is everything after the ``stack:`` line."""
        self.path.write_text(f"stack: {self.name}\n{body}")
        return self.path

    def edit(self, old: str, new: str, count: int = -1) -> None:
        """Replace text in the stack file."""
        text = self.path.read_text()
        assert old in text, f"{old!r} not in the stack file"
        self.path.write_text(text.replace(old, new, count))

    def project(self, env: str) -> str:
        return f"{self.name}-{env}"

    def cli(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        """``envkit -f FILE ARGS`` in-process; ``env`` is laid over os.environ for the call."""
        import io
        import os

        from envkit.cli import main

        out, err = io.StringIO(), io.StringIO()
        saved = {k: os.environ.get(k) for k in env or {}}
        os.environ.update(env or {})
        try:
            code = main(["-f", str(self.path), *args], stdout=out, stderr=err)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return CliResult(code, out.getvalue(), err.getvalue())

    def argv(self, *args: str) -> list[str]:
        """The command line of ``envkit -f FILE ARGS`` as a separate process."""
        import sys

        return [sys.executable, "-m", "envkit", "-f", str(self.path), *args]

    def containers(self, env: str) -> dict[str, Any]:
        """name -> docker SDK container, for the project of ``env``."""
        # The SDK's list() inspects each listed container, and one may go between the list
        # and its inspect (apply replacing it, the engine dropping a failed create): the
        # test helper must not fail on that race, so list ids and skip the vanished ones.
        listed = self.client.api.containers(
            all=True, filters={"label": f"{LABEL.PROJECT}={self.project(env)}"}
        )
        found = {}
        for raw in listed:
            with contextlib.suppress(docker.errors.NotFound):
                ctr = self.client.containers.get(raw["Id"])
                found[ctr.name] = ctr
        return found

    def label(self) -> dict[str, str]:
        return {OWNER: self.name}

    def cleanup(self) -> None:
        remove_labelled(self.client, f"{LABEL.STACK}={self.name}", f"{OWNER}={self.name}")


@pytest.fixture
def stack(docker_client: Any, tmp_path: Path) -> Iterator[StackFile]:
    sf = StackFile(name=f"t{uuid.uuid4().hex[:8]}", dir=tmp_path, client=docker_client)
    try:
        yield sf
    finally:
        sf.cleanup()


def free_port() -> int:
    """A TCP port nothing holds on 127.0.0.1 right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def busybox(name: str, *, command: str = "sleep 3600", extra: str = "") -> str:
    """A YAML service entry (indented for ``services:``) running a busybox command."""
    out = (
        f"  {name}:\n    image: {IMAGE}\n    command: [sh, -c, {json.dumps(command)}]\n"
        "    init: true\n    stop_grace_period: 1s\n"
    )
    return out + "".join(f"    {line}\n" for line in extra.strip("\n").splitlines())

"""Images on Swarm nodes without internet, on the 3-node test cluster (issue 12): a bundle
pushed to the environment's registry and deployed pinned by digest (a moved tag shows in the
plan as a digest change), or loaded onto every node's engine for a cluster without one.

Each test builds its own small image on the host engine (``FROM`` the test busybox plus a
label, so a new build is a new image under the same tag), named after the test's owner, and
removes it from the host and every node afterwards. Pushed images stay in the cluster's
registry storage (``scripts/cluster-down.sh`` removes it).
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from envkit.engine.swarm import SwarmEngine
from envkit.reconcile.swarm_apply import swarm_down

from .harness import OWNER, Cluster

BASE = "envkit-test/busybox:latest"


class Images:
    """Images built on the host engine for one test; gone from the host and the nodes after."""

    def __init__(self, cluster: Cluster) -> None:
        self.host = docker.from_env(timeout=120)
        self.cluster = cluster
        self.ids: list[str] = []

    def build(self, ref: str, label: str) -> str:
        dockerfile = f"FROM {BASE}\nLABEL envkit-test.build={label}\n".encode()
        image, _ = self.host.images.build(fileobj=io.BytesIO(dockerfile), tag=ref, rm=True)
        self.ids.append(str(image.id))
        return str(image.id)

    def remove(self) -> None:
        """Each image built, by id (the same on every engine it was loaded or pulled onto)."""
        clients = [self.host, *(n.client() for n in self.cluster.nodes)]
        for client in clients:
            try:
                for image_id in self.ids:
                    with contextlib.suppress(docker.errors.DockerException):
                        client.images.remove(image_id, force=True)
            finally:
                client.close()


@pytest.fixture
def images(cluster: Cluster) -> Iterator[Images]:
    made = Images(cluster)
    try:
        yield made
    finally:
        made.remove()


def _stack_file(folder: Path, cluster: Cluster, owner: str, image: str) -> Path:
    f = folder / "envkit.yaml"
    f.write_text(textwrap.dedent(f"""\
        stack: {owner}
        environments:
          out: {{}}                              # where the bundle is made: the host engine
          prod: {{engine: {{swarm: "{cluster.manager_host}"}}, registry: "{cluster.registry}"}}
          bare: {{engine: {{swarm: "{cluster.manager_host}"}}}}   # no registry
        services:
          app:
            image: {image}
            command: [sleep, "3600"]
            stop_grace_period: 200ms
            networks: [back]
            deploy:
              replicas: 3
              endpoint_mode: dnsrr
              placement: {{max_replicas_per_node: 1}}   # one task on each of the 3 nodes
              labels: {{{OWNER}: {owner}}}
        networks:
          back: {{}}
    """), encoding="utf-8")  # fmt: skip
    return f


def _envkit(stack: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envkit", "-f", str(stack), *args],
        capture_output=True, text=True, timeout=300, cwd=stack.parent,
    )  # fmt: skip


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result


def _service(manager: Any, name: str) -> dict[str, Any]:
    return dict(manager.api.inspect_service(name))


def _running_images(manager: Any, name: str) -> dict[str, str]:
    """node id -> the image (with digest) of each running task of the service."""
    tasks = manager.api.tasks(filters={"service": name, "desired-state": "running"})
    return {
        t["NodeID"]: t["Spec"]["ContainerSpec"]["Image"]
        for t in tasks
        if t["Status"]["State"] == "running"
    }


@contextlib.contextmanager
def _taken_down(cluster: Cluster, project: str) -> Iterator[None]:
    try:
        yield
    finally:
        engine = SwarmEngine(cluster.manager_host)
        try:
            with contextlib.suppress(Exception):
                swarm_down(engine, project)
        finally:
            engine.close()


def test_bundle_push_to_the_env_registry_then_up_pins_every_node_to_one_digest(
    cluster: Cluster, manager: Any, owner: str, images: Images, tmp_path: Path
) -> None:
    ref = f"envkit-test/img-{owner}:v1"
    in_registry = f"{cluster.registry}/{ref}"
    stack = _stack_file(tmp_path, cluster, owner, ref)
    name = f"{owner}-prod_app"
    with _taken_down(cluster, f"{owner}-prod"):
        images.build(ref, "a")
        _ok(_envkit(stack, "bundle", "save", "out", "-o", "a.envkit.tar.gz"))
        pushed = _ok(_envkit(stack, "bundle", "push", "a.envkit.tar.gz", "--env", "prod"))
        assert pushed.stdout.split() == [in_registry]

        _ok(_envkit(stack, "up", "prod"))
        image_a = _service(manager, name)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        assert (
            image_a.startswith(f"{in_registry}@sha256:") and len(image_a) == len(in_registry) + 72
        )
        running = _running_images(manager, name)
        assert len(running) == 3 and set(running.values()) == {image_a}  # 3 nodes, one digest
        assert _envkit(stack, "plan", "prod", "--detailed-exitcode").returncode == 0

        images.build(ref, "b")  # the tag moves
        _ok(_envkit(stack, "bundle", "save", "out", "-o", "b.envkit.tar.gz"))
        _ok(_envkit(stack, "bundle", "push", "b.envkit.tar.gz", "--env", "prod"))
        text = stack.read_text(encoding="utf-8")
        prod = 'prod: {engine: {swarm: "' + cluster.manager_host + '"}'

        def resolve_image(mode: str) -> None:
            assert prod in text
            mode_text = prod[:-1] + f", resolve_image: {mode}}}"
            stack.write_text(text.replace(prod, mode_text), encoding="utf-8")

        resolve_image("changed")  # the reference did not change: the running digest stays
        assert _envkit(stack, "plan", "prod", "--detailed-exitcode").returncode == 0
        stack.write_text(text, encoding="utf-8")  # always (the default): the moved tag shows
        plan = _envkit(stack, "plan", "prod", "--detailed-exitcode")
        assert plan.returncode == 2, plan
        digest_a = image_a.split("@")[1]
        assert f'~ app: rolling update (image: "{in_registry}@{digest_a}" -> "{in_registry}@sha256:' in plan.stdout, plan.stdout  # fmt: skip

        _ok(_envkit(stack, "up", "prod"))
        image_b = _service(manager, name)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        assert image_b != image_a and image_b.startswith(f"{in_registry}@sha256:")
        assert image_b in plan.stdout
        running = _running_images(manager, name)
        assert len(running) == 3 and set(running.values()) == {image_b}
        assert _envkit(stack, "plan", "prod", "--detailed-exitcode").returncode == 0

        resolve_image("never")  # the reference as written, as docker stack deploy would send it
        _ok(_envkit(stack, "up", "prod"))
        spec = _service(manager, name)["Spec"]["TaskTemplate"]["ContainerSpec"]
        assert spec["Image"] == in_registry


def test_bundle_load_onto_every_node_runs_a_registryless_swarm(
    cluster: Cluster, manager: Any, owner: str, images: Images, tmp_path: Path
) -> None:
    ref = f"envkit-test/load-{owner}:v1"
    stack = _stack_file(tmp_path, cluster, owner, ref)
    with _taken_down(cluster, f"{owner}-bare"):
        image_id = images.build(ref, "c")
        _ok(_envkit(stack, "bundle", "save", "out", "-o", "c.envkit.tar.gz"))
        engines = [x for n in cluster.nodes for x in ("--engine", n.host)]
        loaded = _ok(_envkit(stack, "bundle", "load", "c.envkit.tar.gz", *engines))
        assert loaded.stdout.split() == [ref]
        assert "onto 3 engines" in loaded.stderr, loaded.stderr
        for node in cluster.nodes:
            client = node.client()
            try:
                assert client.images.get(ref).id == image_id, node.name  # the same bits
            finally:
                client.close()
        again = _ok(_envkit(stack, "bundle", "load", "c.envkit.tar.gz", *engines))
        assert again.stderr.count("already on the engine") == 3

        _ok(_envkit(stack, "up", "bare"))
        running = _running_images(manager, f"{owner}-bare_app")
        assert len(running) == 3 and set(running.values()) == {ref}  # no registry: the tag

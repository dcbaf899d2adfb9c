"""DockerEngine against the real engine: observe, errors, foreign objects, ports."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests

from envkit.canonical import canonical_spec, spec_hash
from envkit.engine.base import PortHolder
from envkit.engine.docker import DockerEngine
from envkit.engine.docker_errors import translate
from envkit.engine.endpoint import parse_endpoint
from envkit.errors import EngineUnavailable, ImageNotFound
from envkit.model import LABEL, PortSpec, PullPolicy, ServiceSpec
from envkit.progress import NullReporter
from envkit.reconcile.apply import apply

from .conftest import IMAGE, Project, svc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_observe_of_nothing(engine: DockerEngine, project: Project) -> None:
    desired = project.desired(svc("a"), ServiceSpec("b", "envkit-test/absent:1"))
    observed = engine.observe(desired)
    assert observed.project == project.name
    assert observed.containers == ()
    assert observed.networks == ()
    assert observed.volumes == ()
    assert observed.foreign_names == {}
    assert observed.ports_in_use == ()
    assert observed.images[IMAGE] is not None and observed.images[IMAGE].startswith("sha256:")
    assert observed.images["envkit-test/absent:1"] is None


def test_engine_unreachable_names_the_socket() -> None:
    eng = DockerEngine("unix:///nonexistent/docker.sock")
    with pytest.raises(EngineUnavailable) as info:
        eng.list_containers({LABEL.PROJECT: "x-y"})
    err = info.value
    assert "/nonexistent/docker.sock" in err.message
    assert err.hint is not None and "dockerd" in err.hint


def test_engine_unreachable_names_docker_host() -> None:
    eng = DockerEngine.from_env({"DOCKER_HOST": "tcp://127.0.0.1:1"})
    with pytest.raises(EngineUnavailable) as info:
        eng.list_containers({})
    assert "DOCKER_HOST=tcp://127.0.0.1:1" in info.value.message


def test_permission_denied_is_said_plainly() -> None:
    endpoint = parse_endpoint("unix:///var/run/docker.sock")
    cause = requests.ConnectionError(PermissionError(13, "Permission denied"))
    err = translate(cause, endpoint, 60.0, "list containers of x-y")
    assert isinstance(err, EngineUnavailable)
    assert err.code == "engine-permission-denied"
    assert "permission denied on the socket /var/run/docker.sock" in err.message
    assert err.hint is not None and "docker group" in err.hint


def test_missing_image_with_pull_never(engine: DockerEngine) -> None:
    spec = ServiceSpec("db", "envkit-test/absent:1", pull_policy=PullPolicy.NEVER)
    with pytest.raises(ImageNotFound) as info:
        engine.ensure_image(spec)
    text = info.value.render()
    assert "envkit-test/absent:1" in text and "never" in text
    assert "envkit bundle load" in text


def test_missing_image_pull_fails_clearly(engine: DockerEngine) -> None:
    # No registry on these machines: a pull from localhost:1 cannot succeed.
    spec = ServiceSpec("db", "localhost:1/absent:1")
    with pytest.raises(ImageNotFound) as info:
        engine.ensure_image(spec)
    assert "localhost:1" in info.value.message
    assert "local engine" in info.value.message


def test_ensure_image_present_locally(engine: DockerEngine) -> None:
    assert engine.ensure_image(svc("a")).startswith("sha256:")


def test_observe_parses_what_apply_made(engine: DockerEngine, project: Project) -> None:
    spec = svc("web", ports=(PortSpec(8080, host_ip="127.0.0.1"),), replicas=2)
    desired = project.desired(spec, volumes=("data",))
    apply(project.create_plan(desired), engine, NullReporter())
    observed = engine.observe(desired)
    assert [c.name for c in sorted(observed.containers, key=lambda c: c.name)] == [
        f"{project.name}-web-1",
        f"{project.name}-web-2",
    ]
    for c in observed.containers:
        assert c.project == project.name and c.service == "web"
        assert c.spec_hash == spec_hash(spec)
        assert dict(c.spec) == canonical_spec(spec)
        assert c.state == "running" and c.health is None
        assert c.image_id == observed.images[IMAGE]
        assert c.created.endswith("Z")
        [binding] = c.ports
        assert binding.host_ip == "127.0.0.1" and binding.host_port > 0
        assert binding.target == 8080
    assert [n.name for n in observed.networks] == [project.name]
    assert [v.name for v in observed.volumes] == [f"{project.name}_data"]
    assert observed.volumes[0].labels[LABEL.VOLUME] == "data"
    assert observed.ports_in_use == ()  # its own ports are not "in use by someone else"


def test_garbage_spec_label_is_tolerated(
    engine: DockerEngine, project: Project, docker_client: Any
) -> None:
    docker_client.containers.create(
        IMAGE,
        name=f"{project.name}-x-1",
        labels={LABEL.PROJECT: project.name, LABEL.SPEC: "{not json", LABEL.REPLICA: "one"},
    )
    [c] = engine.observe(project.desired()).containers
    assert c.spec == {} and c.replica == 0 and c.state == "created"


def test_foreign_names(engine: DockerEngine, project: Project, docker_client: Any) -> None:
    desired = project.desired(svc("db"), volumes=("data",))
    docker_client.containers.create(IMAGE, name=f"{project.name}-db-1", labels=project.label())
    docker_client.networks.create(project.name, labels=project.label())
    docker_client.volumes.create(f"{project.name}_data", labels=project.label())
    observed = engine.observe(desired)
    assert observed.foreign_names == {
        f"{project.name}-db-1": "container",
        project.name: "network",
        f"{project.name}_data": "volume",
    }
    assert observed.containers == () and observed.networks == () and observed.volumes == ()


def test_ports_in_use_by_foreign_container_and_host_process(
    engine: DockerEngine, project: Project, docker_client: Any
) -> None:
    by_container, by_process, free = free_port(), free_port(), free_port()
    docker_client.containers.run(
        IMAGE,
        detach=True,
        name=f"{project.name}-squatter",
        labels=project.label(),
        ports={"80/tcp": ("127.0.0.1", by_container)},
    )
    desired = project.desired(
        svc(
            "web",
            ports=(
                PortSpec(80, host_ip="127.0.0.1", published=by_container),
                PortSpec(81, host_ip="127.0.0.1", published=by_process),
                PortSpec(82, host_ip="127.0.0.1", published=free),
            ),
        )
    )
    with socket.socket() as held:
        held.bind(("127.0.0.1", by_process))
        held.listen()
        observed = engine.observe(desired)
    uses = {u.host_port: u for u in observed.ports_in_use}
    assert set(uses) == {by_container, by_process}
    squatter = uses[by_container]
    assert (squatter.holder, squatter.container, squatter.project) == (
        PortHolder.CONTAINER,
        f"{project.name}-squatter",
        "",
    )
    assert uses[by_process].holder is PortHolder.HOST_PROCESS
    assert uses[by_process].host_ip == "127.0.0.1" and uses[by_process].protocol == "tcp"


def test_own_fixed_port_is_not_in_use(engine: DockerEngine, project: Project) -> None:
    port = free_port()
    desired = project.desired(svc("web", ports=(PortSpec(80, "tcp", "127.0.0.1", port),)))
    apply(project.create_plan(desired), engine, NullReporter())
    assert engine.observe(desired).ports_in_use == ()


def test_status_logs_and_follow(engine: DockerEngine, project: Project) -> None:
    spec = svc("talk", command=("sh", "-c", "sleep 0.3; for i in 1 2 3; do echo line$i; done"))
    desired = project.desired(spec)
    apply(project.create_plan(desired), engine, NullReporter())
    [c] = engine.observe(desired).containers
    lines = [chunk.decode() for chunk in engine.follow_logs(c.id)]  # ends when it exits
    assert "".join(lines).split() == ["line1", "line2", "line3"]
    assert engine.logs(c.id, tail=1).strip() == "line3"
    status = engine.status(c.id)
    assert status.state == "exited" and status.exit_code == 0 and status.health is None

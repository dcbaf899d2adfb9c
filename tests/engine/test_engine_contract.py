"""One contract, two engines: the same scenarios on FakeEngine and on the real DockerEngine,
so the fake that the planner, apply, API and plugin tests run on cannot drift from Docker.

Each scenario gets a :class:`Harness`: the engine, plus how to make what envkit does not own
(a foreign container, volume or network; a host process holding a port). On Docker every
object a scenario makes carries its project's label or the test-owner label and is removed
afterwards, even when the scenario fails (the ``project`` fixture).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

import pytest

from envkit.canonical import container_labels, project_labels
from envkit.engine.base import Engine, ExecResult, PortHolder, PortUse
from envkit.engine.docker import DockerEngine
from envkit.engine.fake import FakeEngine
from envkit.errors import EngineError, ImageNotFound
from envkit.model import LABEL, DesiredState, PortSpec, PullPolicy, VolumeSpec
from envkit.reconcile.plan import plan
from envkit.reconcile.pullcheck import with_pull_check

from .conftest import IMAGE, Project, free_port, svc


class Harness(Protocol):
    engine: Engine

    def foreign_container(self, name: str, ports: tuple[PortSpec, ...] = ()) -> None: ...
    def foreign_volume(self, name: str) -> None: ...
    def foreign_network(self, name: str) -> None: ...
    def hold_host_port(self, port: int) -> contextlib.AbstractContextManager[None]: ...


@dataclass
class FakeHarness:
    engine: FakeEngine

    def foreign_container(self, name: str, ports: tuple[PortSpec, ...] = ()) -> None:
        self.engine.add_foreign_container(name, ports=ports)

    def foreign_volume(self, name: str) -> None:
        self.engine.add_foreign_volume(name)

    def foreign_network(self, name: str) -> None:
        self.engine.add_foreign_network(name)

    @contextlib.contextmanager
    def hold_host_port(self, port: int) -> Iterator[None]:
        self.engine.bind_host_port(port, "127.0.0.1")
        try:
            yield
        finally:
            self.engine.host_ports.discard(("127.0.0.1", port, "tcp"))


@dataclass
class DockerHarness:
    engine: DockerEngine
    project: Project

    def foreign_container(self, name: str, ports: tuple[PortSpec, ...] = ()) -> None:
        self.project.client.containers.run(
            IMAGE,
            ["sleep", "3600"],
            detach=True,
            init=True,
            name=name,
            labels=self.project.label(),
            ports={f"{p.target}/{p.protocol}": (p.host_ip, p.published) for p in ports},
        )

    def foreign_volume(self, name: str) -> None:
        self.project.client.volumes.create(name, labels=self.project.label())

    def foreign_network(self, name: str) -> None:
        self.project.client.networks.create(name, labels=self.project.label())

    @contextlib.contextmanager
    def hold_host_port(self, port: int) -> Iterator[None]:
        with socket.socket() as held:
            held.bind(("127.0.0.1", port))
            held.listen()
            yield


@pytest.fixture(params=["fake", "docker"])
def harness(request: pytest.FixtureRequest, project: Project) -> Iterator[Harness]:
    if request.param == "fake":
        fake = FakeEngine()
        fake.add_image(IMAGE)
        yield FakeHarness(fake)
        return
    eng = DockerEngine.from_env()
    try:
        yield DockerHarness(eng, project)
    finally:
        eng.close()


def web(port: int, **kw: Any) -> Any:
    return svc("web", ports=(PortSpec(80, host_ip="127.0.0.1", published=port),), **kw)


def make(h: Harness, desired: DesiredState) -> str:
    """The network, the volumes and the first container of ``desired``, started."""
    eng = h.engine
    eng.create_network(desired.network, project_labels(desired))
    for vol in desired.volumes:
        if not vol.external:
            labels = {**project_labels(desired), LABEL.VOLUME: vol.name}
            eng.create_volume(desired.volume_name(vol.name), labels)
    spec = desired.services[0]
    cid = eng.create_container(desired, spec, 1, container_labels(desired, spec, 1))
    eng.start_container(cid)
    return cid


# -- scenarios ------------------------------------------------------------------------------


def test_observe_empty(harness: Harness, project: Project) -> None:
    desired = project.desired(web(free_port()), volumes=("data",))
    o = harness.engine.observe(desired)
    assert (o.project, o.containers, o.networks, o.volumes) == (project.name, (), (), ())
    assert o.foreign_names == {} and o.ports_in_use == ()
    assert o.images[IMAGE] is not None and o.images[IMAGE].startswith("sha256:")


def test_create_start_observe_stop_remove(harness: Harness, project: Project) -> None:
    eng = harness.engine
    port = free_port()
    desired = project.desired(web(port), volumes=("data",))
    cid = make(harness, desired)

    o = eng.observe(desired)
    (c,) = o.containers
    assert (c.id, c.name, c.project, c.service, c.replica) == (
        cid,
        f"{project.name}-web-1",
        project.name,
        "web",
        1,
    )
    assert c.state == "running" and c.health is None and c.exit_code is None
    assert [(b.target, b.protocol, b.host_ip, b.host_port) for b in c.ports] == [
        (80, "tcp", "127.0.0.1", port)
    ]
    spec = desired.services[0]
    # (Docker adds the image's own labels: the container's are a superset of envkit's.)
    assert container_labels(desired, spec, 1).items() <= dict(c.labels).items()
    assert c.spec_hash == c.labels[LABEL.SPEC_HASH] and c.spec  # the spec label round-trips
    assert c.image_id == o.images[IMAGE]
    assert [n.name for n in o.networks] == [desired.network]
    assert [v.name for v in o.volumes] == [desired.volume_name("data")]
    assert o.ports_in_use == () and o.foreign_names == {}  # its own port is not in use
    assert plan(desired, o).has_changes is False

    status = eng.status(cid)
    assert (status.state, status.health, status.exit_code) == ("running", None, None)
    assert eng.connect_host("0.0.0.0") == "127.0.0.1" == eng.connect_host("")
    assert eng.connect_host("127.0.0.1") == "127.0.0.1"

    # the inventory, by label
    selector: dict[str, str | None] = {LABEL.PROJECT: project.name}
    assert [x.id for x in eng.list_containers(selector)] == [cid]
    assert [x.id for x in eng.list_containers({LABEL.PROJECT: None}) if x.id == cid] == [cid]
    assert eng.list_containers({**selector, LABEL.SERVICE: "db"}) == []
    assert [n.name for n in eng.list_networks(selector)] == [desired.network]
    assert [v.name for v in eng.list_volumes(selector)] == [desired.volume_name("data")]

    eng.stop_container(cid, 1)
    (stopped,) = eng.observe(desired).containers
    assert stopped.state == "exited" and stopped.ports == ()
    assert eng.status(cid).state == "exited"

    eng.remove_container(cid)
    eng.remove_container(cid)  # removing what is gone succeeds
    eng.stop_container(cid, 1)
    eng.remove_network(desired.network)
    eng.remove_network(desired.network)
    eng.remove_volume(desired.volume_name("data"))
    eng.remove_volume(desired.volume_name("data"))
    o = eng.observe(desired)
    assert (o.containers, o.networks, o.volumes) == ((), (), ())
    with pytest.raises(EngineError) as gone:
        eng.status(cid)
    assert gone.value.code == "engine-not-found"


def test_a_name_in_use_is_an_engine_conflict(harness: Harness, project: Project) -> None:
    desired = project.desired(svc("web"))
    make(harness, desired)
    spec = desired.services[0]
    with pytest.raises(EngineError) as taken:
        harness.engine.create_container(desired, spec, 1, container_labels(desired, spec, 1))
    assert taken.value.code == "engine-conflict"


def test_foreign_names(harness: Harness, project: Project) -> None:
    desired = project.desired(svc("web"), volumes=("data",))
    harness.foreign_container(f"{project.name}-web-1")
    harness.foreign_volume(desired.volume_name("data"))
    harness.foreign_network(desired.network)
    o = harness.engine.observe(desired)
    assert o.foreign_names == {
        f"{project.name}-web-1": "container",
        desired.volume_name("data"): "volume",
        desired.network: "network",
    }
    assert (o.containers, o.networks, o.volumes) == ((), (), ())
    codes = sorted(c.code for c in plan(desired, o).conflicts)
    assert codes == ["name-taken", "name-taken", "name-taken"]


def test_an_existing_external_volume_is_observed(harness: Harness, project: Project) -> None:
    shared = f"{project.name}-shared"
    desired = replace(project.desired(svc("web")), volumes=(VolumeSpec(shared, external=True),))
    missing = plan(desired, harness.engine.observe(desired)).conflicts
    assert [c.code for c in missing] == ["volume-missing"]
    harness.foreign_volume(shared)
    o = harness.engine.observe(desired)
    assert [v.name for v in o.volumes] == [shared] and o.foreign_names == {}
    assert plan(desired, o).conflicts == ()


def test_ports_held_by_a_foreign_container_or_a_host_process(
    harness: Harness, project: Project
) -> None:
    by_container, by_process, free = free_port(), free_port(), free_port()
    squatter = f"{project.name}-squatter"
    harness.foreign_container(
        squatter, (PortSpec(80, host_ip="127.0.0.1", published=by_container),)
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
    with harness.hold_host_port(by_process):
        o = harness.engine.observe(desired)
    assert sorted(o.ports_in_use, key=lambda u: u.host_port != by_container) == [
        PortUse("127.0.0.1", by_container, "tcp", PortHolder.CONTAINER, squatter, ""),
        PortUse("127.0.0.1", by_process, "tcp", PortHolder.HOST_PROCESS),
    ]
    assert [c.code for c in plan(desired, o).conflicts] == ["port-in-use", "port-in-use"]


def test_starting_on_a_port_a_running_container_holds_fails(
    harness: Harness, project: Project
) -> None:
    port = free_port()
    harness.foreign_container(
        f"{project.name}-squatter", (PortSpec(80, host_ip="127.0.0.1", published=port),)
    )
    desired = project.desired(web(port))
    with pytest.raises(EngineError, match="already allocated"):
        make(harness, desired)


@pytest.mark.parametrize("policy", [PullPolicy.NEVER, PullPolicy.MISSING])
def test_a_missing_image_is_image_not_found(
    harness: Harness, project: Project, policy: PullPolicy
) -> None:
    # MISSING: the pull goes to a registry on a closed local port, so it fails at once.
    ref = f"127.0.0.1:{free_port()}/envkit-contract/{project.stack}:none"
    spec = replace(svc("web", pull_policy=policy), image=ref)
    desired = project.desired(spec)
    o = harness.engine.observe(desired)
    assert o.images == {ref: None}
    if policy is PullPolicy.NEVER:
        assert [c.code for c in plan(desired, o).conflicts] == ["image-missing"]
    else:  # plan asks first: no registry can give it, so it is a conflict before apply
        assert harness.engine.pull_problem(ref)
        checked = with_pull_check(desired, harness.engine, o)
        assert [c.code for c in plan(desired, checked).conflicts] == ["image-unavailable"]
    with pytest.raises(ImageNotFound):
        harness.engine.ensure_image(spec)


def test_the_present_image_is_used_as_it_is(harness: Harness, project: Project) -> None:
    spec = svc("web", pull_policy=PullPolicy.NEVER)
    desired = project.desired(spec)
    image_id = harness.engine.ensure_image(spec)
    assert image_id == harness.engine.observe(desired).images[IMAGE]
    info = harness.engine.image_info(IMAGE)
    assert info is not None and info.id == image_id and IMAGE in info.tags
    assert harness.engine.image_info(f"envkit-contract/{project.stack}:none") is None


def test_restart_kill_pause_unpause(harness: Harness, project: Project) -> None:
    eng = harness.engine
    desired = project.desired(svc("web"))
    cid = make(harness, desired)

    eng.pause_container(cid)
    assert eng.status(cid).state == "paused"
    (paused,) = eng.observe(desired).containers
    assert paused.state == "paused"
    assert [c.action.name for c in plan(desired, eng.observe(desired)).changes][-1] == "START"
    with pytest.raises(EngineError) as twice:
        eng.pause_container(cid)
    assert twice.value.code == "engine-conflict"
    eng.unpause_container(cid)
    assert eng.status(cid).state == "running"
    with pytest.raises(EngineError) as not_paused:
        eng.unpause_container(cid)
    assert not_paused.value.code == "engine-error"  # Docker says 500, not 409

    eng.kill_container(cid, "SIGKILL")
    killed = eng.status(cid)
    assert (killed.state, killed.exit_code) == ("exited", 137)
    with pytest.raises(EngineError) as not_running:
        eng.kill_container(cid, "SIGTERM")
    assert not_running.value.code == "engine-conflict"

    eng.restart_container(cid, 1)  # a stopped container is started
    assert eng.status(cid).state == "running"
    eng.restart_container(cid, 1)
    assert eng.status(cid).state == "running"


def test_exec_and_top(harness: Harness, project: Project) -> None:
    eng = harness.engine
    desired = project.desired(svc("web"))
    cid = make(harness, desired)
    if isinstance(eng, FakeEngine):
        eng.exec_results["web"] = ExecResult(3, b"x\n")
    done = eng.exec_in(cid, ["sh", "-c", "echo x; exit 3"], environment={"A": "1"})
    assert (done.exit_code, done.output) == (3, b"x\n")
    procs = eng.top(cid)
    assert "PID" in procs.titles and procs.rows
    eng.stop_container(cid, 1)
    with pytest.raises(EngineError) as stopped:
        eng.exec_in(cid, ["true"])
    assert stopped.value.code == "engine-conflict"


def test_exec_passes_environment_user_and_workdir_on_docker(project: Project) -> None:
    eng = DockerEngine.from_env()
    try:
        desired = project.desired(svc("web"))
        cid = make(DockerHarness(eng, project), desired)
        done = eng.exec_in(
            cid,
            ["sh", "-c", "echo $A; id -u; pwd"],
            environment={"A": "v"},
            user="1234",
            workdir="/tmp",
        )
        assert (done.exit_code, done.output.decode().split()) == (0, ["v", "1234", "/tmp"])
    finally:
        eng.close()


def test_files_in_and_out_and_events(harness: Harness, project: Project) -> None:
    import io
    import tarfile

    eng = harness.engine
    desired = project.desired(svc("web"))
    cid = make(harness, desired)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("envkit-probe/hello.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"hi\n"))
    buf.seek(0)
    eng.write_archive(cid, "/", buf)
    stat = eng.stat_path(cid, "/envkit-probe/hello.txt")
    assert stat is not None and (stat.name, stat.size, stat.is_dir) == ("hello.txt", 3, False)
    folder = eng.stat_path(cid, "/envkit-probe")
    assert folder is not None and folder.is_dir
    assert eng.stat_path(cid, "/no/such") is None
    raw = b"".join(eng.read_archive(cid, "/envkit-probe"))
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        member = tar.getmember("envkit-probe/hello.txt")
        got = tar.extractfile(member)
        assert got is not None and got.read() == b"hi\n"
    with pytest.raises(EngineError) as missing:
        list(eng.read_archive(cid, "/no/such"))
    assert missing.value.code == "engine-not-found"

    import time

    eng.stop_container(cid, 1)
    seen = list(
        eng.events({LABEL.PROJECT: project.name}, since=time.time() - 120, until=time.time())
    )
    name = f"{project.name}-web-1"
    assert {(e.type, e.action, e.name) for e in seen} >= {
        ("container", "create", name),
        ("container", "start", name),
    }
    assert all(e.labels.get(LABEL.PROJECT) == project.name for e in seen)

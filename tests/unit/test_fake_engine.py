"""FakeEngine observes like the real engine, so planner/apply tests on it mean something."""

from __future__ import annotations

from dataclasses import replace

import pytest

from envkit.canonical import container_labels, project_labels, spec_hash
from envkit.engine.base import Engine, PortHolder
from envkit.engine.fake import FakeEngine, Outcome
from envkit.errors import EngineError, ImageNotFound
from envkit.model import DesiredState, Healthcheck, PortSpec, PullPolicy, ServiceSpec, VolumeSpec
from envkit.reconcile.changes import Action
from envkit.reconcile.plan import plan

DB = ServiceSpec(
    "db",
    "db:1",
    ports=(PortSpec(5432, host_ip="127.0.0.1", published=15432),),
    healthcheck=Healthcheck(("CMD", "true")),
)
DEV = DesiredState(
    "shop", "dev", None, (DB,), (VolumeSpec("data"), VolumeSpec("ext", external=True))
)
TEST = DesiredState("shop", "test", None, (DB,))


def provision(engine: FakeEngine, desired: DesiredState) -> str:
    if desired.network not in engine.networks:
        engine.create_network(desired.network, project_labels(desired))
    labels = container_labels(desired, DB, 1)
    cid = engine.create_container(desired, DB, 1, labels)
    engine.start_container(cid)
    return cid


def test_is_an_engine() -> None:
    engine: Engine = FakeEngine()
    assert engine.observe(TEST).containers == ()


def test_observe_round_trips_labels_and_spec() -> None:
    engine = FakeEngine({"db:1": "sha256:1"})
    cid = provision(engine, DEV)
    (c,) = engine.observe(DEV).containers
    assert (c.id, c.name, c.project, c.service, c.replica) == (
        cid,
        "shop-dev-db-1",
        "shop-dev",
        "db",
        1,
    )
    assert c.spec_hash == spec_hash(DB) and c.spec["image"] == "db:1"
    assert (c.state, c.health, c.image_id) == ("running", "healthy", "sha256:1")
    assert engine.observe(TEST).containers == ()
    assert engine.calls == [
        ("create_network", "shop-dev"),
        ("create_container", "shop-dev-db-1"),
        ("start_container", "shop-dev-db-1"),
        ("observe", "shop-dev"),
        ("observe", "shop-test"),
    ]


def test_foreign_names_ports_and_external_volumes() -> None:
    engine = FakeEngine({"db:1": "sha256:1"})
    provision(engine, TEST)  # another project holds 127.0.0.1:15432
    engine.add_foreign_container("shop-dev-db-1")
    engine.add_foreign_volume("shop-dev_data")
    o = engine.observe(DEV)
    assert o.foreign_names == {"shop-dev-db-1": "container", "shop-dev_data": "volume"}
    assert [(u.holder, u.container, u.project) for u in o.ports_in_use] == [
        (PortHolder.CONTAINER, "shop-test-db-1", "shop-test")
    ]
    assert o.volumes == ()
    engine.add_foreign_volume("ext")
    assert [v.name for v in engine.observe(DEV).volumes] == ["ext"]
    codes = [c.code for c in plan(DEV, engine.observe(DEV)).conflicts]
    assert codes == ["name-taken", "name-taken", "port-in-use"]


def test_a_host_process_holds_a_port() -> None:
    engine = FakeEngine({"db:1": "sha256:1"})
    engine.bind_host_port(15432)
    (use,) = engine.observe(TEST).ports_in_use
    assert (use.holder, use.container, use.project) == (PortHolder.HOST_PROCESS, "", "")
    engine.create_network("shop-test", project_labels(TEST))
    cid = engine.create_container(TEST, DB, 1, container_labels(TEST, DB, 1))
    with pytest.raises(EngineError, match="already allocated"):
        engine.start_container(cid)


def test_a_host_range_binds_its_first_free_port() -> None:
    engine = FakeEngine({"db:1": "sha256:1"})
    engine.bind_host_port(15432)
    ranged = ServiceSpec(
        "db", "db:1", ports=(PortSpec(5432, published=15432, published_last=15433),)
    )
    desired = DesiredState("shop", "test", None, (ranged,))
    engine.create_network("shop-test", project_labels(desired))
    cid = engine.create_container(desired, ranged, 1, container_labels(desired, ranged, 1))
    engine.start_container(cid)
    [seen] = engine.observe(desired).containers
    assert [b.host_port for b in seen.ports] == [15433]
    engine.bind_host_port(15434)
    engine.bind_host_port(15435)
    full = replace(ranged, ports=(PortSpec(5432, published=15434, published_last=15435),))
    again = engine.create_container(desired, full, 2, container_labels(desired, full, 2))
    with pytest.raises(EngineError, match="port 15434-15435/tcp is already allocated"):
        engine.start_container(again)


def test_images_pull_and_policies() -> None:
    engine = FakeEngine(registry={"db:1": "sha256:pulled"})
    assert engine.ensure_image(DB) == "sha256:pulled"
    assert engine.mutating_calls == [("pull", "db:1")]
    with pytest.raises(ImageNotFound):
        engine.ensure_image(ServiceSpec("x", "nowhere:1"))
    with pytest.raises(ImageNotFound):
        engine.ensure_image(ServiceSpec("x", "nowhere:1", pull_policy=PullPolicy.NEVER))


def test_outcomes_and_a_stopped_container_is_started_by_the_plan() -> None:
    engine = FakeEngine({"db:1": "sha256:1"})
    engine.outcomes["db"] = Outcome(state="exited", exit_code=3, logs="boom\n")
    cid = provision(engine, DEV)
    status = engine.status(cid)
    assert (status.state, status.exit_code) == ("exited", 3)
    assert engine.logs(cid, tail=1) == "boom\n"
    assert [c.action for c in plan(DEV, engine.observe(DEV)).changes][-1] is Action.START

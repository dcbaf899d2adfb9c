"""A recreate makes the new container before it touches the old one (on the fake engine)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from envkit.canonical import container_labels, project_labels
from envkit.engine.fake import FakeEngine
from envkit.errors import EngineError
from envkit.model import DesiredState, ServiceSpec
from envkit.progress import NullReporter
from envkit.reconcile.apply import apply
from envkit.reconcile.changes import Action
from envkit.reconcile.plan import plan

WEB = ServiceSpec("web", "web:1", environment=(("REV", "1"),))
DEV = DesiredState("shop", "dev", None, (WEB,))
NAME = "shop-dev-web-1"


def running() -> tuple[FakeEngine, str]:
    engine = FakeEngine(images={"web:1": "sha256:" + "b" * 64})
    engine.create_network(DEV.network, project_labels(DEV))
    cid = engine.create_container(DEV, WEB, 1, container_labels(DEV, WEB, 1))
    engine.start_container(cid)
    engine.calls.clear()
    return engine, cid


def test_new_container_is_created_beside_the_old_one_then_swapped() -> None:
    engine, old = running()
    changed = replace(DEV, services=(replace(WEB, environment=(("REV", "2"),)),))
    p = plan(changed, engine.observe(changed))
    apply(p, engine, NullReporter())
    temp = f"{old[:12]}_{NAME}"
    assert engine.mutating_calls == [
        ("create_container", temp),
        ("stop_container", NAME),
        ("remove_container", NAME),
        ("rename_container", f"{temp} -> {NAME}"),
        ("start_container", NAME),
    ]
    assert not plan(changed, engine.observe(changed)).has_changes


def test_a_refused_create_leaves_the_old_container_running() -> None:
    engine, old = running()
    changed = replace(DEV, services=(replace(WEB, environment=(("REV", "2"),)),))
    p = plan(changed, engine.observe(changed))
    del engine.networks[DEV.network]  # the engine now refuses the create
    with pytest.raises(EngineError) as caught:
        apply(p, engine, NullReporter())
    assert f"the old container {NAME} was left as it was (running)" in caught.value.message
    kept = engine.container(NAME)
    assert kept is not None and kept.id == old and kept.state == "running"
    assert [c for c in engine.mutating_calls if c[0] != "create_container"] == []


def test_a_leftover_of_an_interrupted_swap_is_removed_by_the_next_plan() -> None:
    engine, old = running()
    observed = engine.observe(DEV)
    leftover = replace(observed.containers[0], id="x", name=f"{old[:12]}_{NAME}")
    p = plan(DEV, replace(observed, containers=(*observed.containers, leftover)))
    assert [(c.action, c.name) for c in p.changes if c.action is not Action.NOOP] == [
        (Action.REMOVE, leftover.name)
    ]

"""Pinning a Swarm stack's images by registry digest (pure): what ``up`` sends, what ``plan``
shows when a tag moves, and what happens when no registry answers."""

from __future__ import annotations

import json
from pathlib import Path

from envkit.engine.swarm_base import ObservedService, ObservedSwarm, ObservedTask
from envkit.model import LABEL
from envkit.reconcile.swarm_images import pin_images, pinned, unpinned_refs
from envkit.reconcile.swarm_plan import ServiceAction, swarm_plan
from envkit.reconcile.swarm_spec import engine_spec, service_labels
from envkit.stackfile.pipeline import read, resolve
from envkit.stackfile.swarmkeys import to_swarm
from envkit.swarm_model import SwarmStack

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64
REF = "127.0.0.1:5000/shop/web:1.4"

TEXT = """\
stack: s
environments: {dev: {engine: {swarm: "unix:///run/m.sock"}}}
services:
  web: {image: "127.0.0.1:5000/shop/web:1.4", deploy: {replicas: 2}}
  api: {image: "127.0.0.1:5000/shop/web:1.4"}
  db: {image: "127.0.0.1:5000/db@sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"}
"""


def _stack(tmp_path: Path, text: str = TEXT) -> SwarmStack:
    f = tmp_path / "envkit.yaml"
    f.write_text(text, encoding="utf-8")
    r = resolve(read(f), "dev")
    return to_swarm(r.rendered, r.desired)


def _observed(stack: SwarmStack) -> ObservedSwarm:
    """The stack as `up` left it: each service running its spec, 2 tasks each."""
    services = []
    for i, svc in enumerate(stack.services):
        labels = service_labels(stack, svc)
        tasks = tuple(
            ObservedTask(f"t{i}{n}", f"id{i}", f"n{n}", "running", "running", 3)
            for n in range(svc.replicas)
        )
        services.append(ObservedService(
            f"id{i}", f"s-dev_{svc.name}", svc.name, 3, labels, json.loads(labels[LABEL.SPEC]),
            tasks=tasks, engine_spec=engine_spec(stack, svc),
        ))  # fmt: skip
    return ObservedSwarm("s-dev", tuple(services))


def _images(stack: SwarmStack) -> dict[str, str]:
    return {s.name: s.spec.image for s in stack.services}


def test_each_unpinned_reference_is_resolved_once(tmp_path: Path) -> None:
    assert unpinned_refs(_stack(tmp_path)) == [REF]


def test_resolved_images_are_sent_as_ref_at_digest(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    asked: list[list[str]] = []

    def resolve(refs: list[str]) -> dict[str, str | None]:
        asked.append(refs)
        return dict.fromkeys(refs, A)

    pins = pinned(resolve, stack, ObservedSwarm("s-dev"))
    assert asked == [[REF]]
    assert _images(pins.stack)["web"] == f"{REF}@{A}"
    assert _images(pins.stack)["api"] == f"{REF}@{A}"
    assert _images(pins.stack)["db"] == _images(stack)["db"]  # pinned in the file: as is
    web = pins.stack.service("web")
    assert engine_spec(pins.stack, web)["TaskTemplate"]["ContainerSpec"]["Image"] == f"{REF}@{A}"
    assert pins.notes == ()


def test_a_moved_tag_is_a_rolling_update_showing_the_digests(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    before = pin_images(stack, {REF: A}, ObservedSwarm("s-dev")).stack
    observed = _observed(before)
    assert swarm_plan(pin_images(stack, {REF: A}, observed).stack, observed).changes == ()
    plan = swarm_plan(pin_images(stack, {REF: B}, observed).stack, observed)
    assert {c.service: c.action for c in plan.changes} == {
        "web": ServiceAction.ROLLING,
        "api": ServiceAction.ROLLING,
    }
    assert f'image: "{REF}@{A}" -> "{REF}@{B}"' in plan.changes[0].describe()


def test_a_registry_that_does_not_answer_keeps_the_running_digest(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    observed = _observed(pin_images(stack, {REF: A}, ObservedSwarm("s-dev")).stack)
    pins = pin_images(stack, {REF: None}, observed)
    assert _images(pins.stack)["web"] == f"{REF}@{A}"
    assert swarm_plan(pins.stack, observed).changes == ()  # no roll back to the bare tag
    assert pins.notes == (
        f"web: no registry answered for {REF}; keeping the digest it runs ({A[:19]})",
        f"api: no registry answered for {REF}; keeping the digest it runs ({A[:19]})",
    )


def test_an_image_no_registry_knows_stays_as_written(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    pins = pin_images(stack, {REF: None}, ObservedSwarm("s-dev"))
    assert _images(pins.stack) == _images(stack)
    assert pins.notes == ()


def test_a_running_digest_of_another_image_is_not_kept(tmp_path: Path) -> None:
    observed = _observed(pin_images(_stack(tmp_path), {REF: A}, ObservedSwarm("s-dev")).stack)
    changed = _stack(tmp_path, TEXT.replace("web:1.4", "web:1.3"))
    other = REF.replace("web:1.4", "web:1.3")
    pins = pin_images(changed, {other: None}, observed)
    assert _images(pins.stack)["web"] == other  # 1.3 was never pinned: the tag as written
    assert pins.notes == ()


def _with_mode(mode: str) -> str:
    return TEXT.replace(
        '{swarm: "unix:///run/m.sock"}', f'{{swarm: "unix:///run/m.sock", resolve_image: {mode}}}'
    )


def test_resolve_image_never_sends_the_references_as_written(tmp_path: Path) -> None:
    stack = _stack(tmp_path, _with_mode("never"))
    assert stack.resolve_image == "never"

    def resolve(refs: list[str]) -> dict[str, str | None]:
        raise AssertionError("never asks the registry")

    deployed = pin_images(_stack(tmp_path), {REF: A}, ObservedSwarm("s-dev")).stack  # always
    running = _observed(deployed)
    pins = pinned(resolve, stack, running)
    assert _images(pins.stack) == _images(stack) and pins.notes == ()
    # A stack deployed pinned, then set to never: the plan moves the services to the tag.
    plan = swarm_plan(pins.stack, running)
    assert {c.service for c in plan.changes} == {"web", "api"}


def test_resolve_image_changed_asks_only_for_images_not_running_pinned(tmp_path: Path) -> None:
    stack = _stack(tmp_path, _with_mode("changed"))
    asked: list[list[str]] = []

    def resolve(refs: list[str]) -> dict[str, str | None]:
        asked.append(refs)
        return dict.fromkeys(refs, B)  # the tag has moved in the registry

    first = pinned(resolve, stack, ObservedSwarm("s-dev"))  # nothing runs: asked
    assert asked == [[REF]] and _images(first.stack)["web"] == f"{REF}@{B}"

    running = _observed(pin_images(stack, {REF: A}, ObservedSwarm("s-dev")).stack)
    asked.clear()
    again = pinned(resolve, stack, running)  # every user runs it pinned: kept, not asked
    assert asked == [] and again.notes == ()
    assert _images(again.stack)["web"] == f"{REF}@{A}"
    assert swarm_plan(again.stack, running).changes == ()

    # Under always (the default) the moved tag is a rolling update.
    always = pinned(resolve, _stack(tmp_path), running)
    assert _images(always.stack)["web"] == f"{REF}@{B}"
    assert swarm_plan(always.stack, running).changes != ()


def test_resolve_image_changed_asks_when_a_service_gets_a_new_reference(tmp_path: Path) -> None:
    stack = _stack(tmp_path, _with_mode("changed"))
    running = _observed(pin_images(stack, {REF: A}, ObservedSwarm("s-dev")).stack)
    new = REF.replace(":1.4", ":1.5")
    changed = _stack(tmp_path, _with_mode("changed").replace(':1.4", deploy', ':1.5", deploy'))
    assert changed.service("web").spec.image == new
    asked: list[list[str]] = []

    def resolve(refs: list[str]) -> dict[str, str | None]:
        asked.append(refs)
        return dict.fromkeys(refs, B)

    pins = pinned(resolve, changed, running)
    assert asked == [[new]]  # api still runs 1.4 pinned: not asked
    assert _images(pins.stack) == {**_images(changed), "web": f"{new}@{B}", "api": f"{REF}@{A}"}

"""plan and up ask the registry about images apply would pull (envkit.reconcile.pullcheck);
the planner makes a "no" an image-unavailable conflict, per service that needs the image."""

from __future__ import annotations

from typing import Any

import pytest

from envkit.engine.fake import FakeEngine
from envkit.model import BuildSpec, DesiredState, PullPolicy, ServiceSpec
from envkit.reconcile.plan import plan
from envkit.reconcile.present import plan_text
from envkit.reconcile.pullcheck import with_pull_check

LOCAL, REMOTE, NOWHERE = "local:1", "remote:1", "nowhere:1"
DIGEST = "sha256:" + "a" * 64


class AskingEngine(FakeEngine):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.asked: list[str] = []

    def pull_problem(self, ref: str) -> str | None:
        self.asked.append(ref)
        return super().pull_problem(ref)


def _desired(*services: ServiceSpec) -> DesiredState:
    return DesiredState(stack="s", environment="e", instance=None, services=services)


def _engine() -> AskingEngine:
    return AskingEngine(images={LOCAL: DIGEST}, registry={REMOTE: DIGEST})


def test_only_images_apply_would_pull_are_asked_about_once_each() -> None:
    desired = _desired(
        ServiceSpec(name="a", image=LOCAL),
        ServiceSpec(name="b", image=REMOTE),
        ServiceSpec(name="c", image=NOWHERE),
        ServiceSpec(name="d", image=NOWHERE),
        ServiceSpec(name="built", image="built:1", build=BuildSpec(context="/ctx")),
        ServiceSpec(name="never", image="never:1", pull_policy=PullPolicy.NEVER),
        ServiceSpec(name="always", image="always:1", pull_policy=PullPolicy.ALWAYS),
    )
    engine = _engine()
    observed = with_pull_check(desired, engine, engine.observe(desired))
    assert engine.asked == [NOWHERE, REMOTE]
    assert dict(observed.unpullable) == {NOWHERE: f"{NOWHERE} is not in the fake registry"}


@pytest.mark.parametrize(
    ("image", "conflicts", "reason"),
    [
        (LOCAL, [], None),
        (REMOTE, [], f"image {REMOTE} will be pulled"),
        (NOWHERE, ["c1", "c2"], f"image {NOWHERE} is missing locally, not pullable here"),
    ],
)
def test_an_image_that_cannot_be_pulled_is_a_conflict_per_service(
    image: str, conflicts: list[str], reason: str | None
) -> None:
    desired = _desired(ServiceSpec(name="c1", image=image), ServiceSpec(name="c2", image=image))
    engine = _engine()
    p = plan(desired, with_pull_check(desired, engine, engine.observe(desired)))
    assert [c.service for c in p.conflicts] == conflicts
    for c in p.conflicts:
        assert c.code == "image-unavailable"
        assert c.message == (
            f"image {NOWHERE} of service {c.service} is missing locally, not pullable here: "
            f"{NOWHERE} is not in the fake registry"
        )
        assert "envkit bundle load FILE" in (c.hint or "")
    reasons = [r for ch in p.changes for r in ch.reasons]
    assert reasons == ([reason, reason] if reason else [])
    if reason:
        assert f"# {reason}" in plan_text(p)


def test_a_container_that_needs_no_new_image_is_no_conflict() -> None:
    from envkit.progress import NullReporter
    from envkit.reconcile.apply import apply

    desired = _desired(ServiceSpec(name="c", image=REMOTE))
    engine = _engine()
    apply(plan(desired, engine.observe(desired)), engine, NullReporter())
    engine.images.pop(REMOTE)  # the image went (docker rmi -f); the container runs on
    engine.registry.pop(REMOTE)
    p = plan(desired, with_pull_check(desired, engine, engine.observe(desired)))
    assert p.conflicts == ()

"""apply asks the engine for an image only when the observe did not already list it."""

from __future__ import annotations

from typing import Any

import pytest

from envkit.engine.fake import FakeEngine
from envkit.model import DesiredState, PullPolicy, ServiceSpec
from envkit.progress import NullReporter
from envkit.reconcile.apply import apply
from envkit.reconcile.plan import plan

IMAGE = "busybox:latest"


class CountingEngine(FakeEngine):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.asked: list[str] = []

    def ensure_image(self, spec: ServiceSpec, on_output: Any = None) -> str:
        self.asked.append(spec.image)
        return super().ensure_image(spec, on_output)


def _desired(policy: PullPolicy) -> DesiredState:
    return DesiredState(
        stack="s",
        environment="e",
        instance=None,
        services=tuple(
            ServiceSpec(name=f"svc{i}", image=IMAGE, pull_policy=policy) for i in range(3)
        ),
    )


def test_an_image_the_observe_listed_is_not_inspected_again() -> None:
    engine = CountingEngine(images={IMAGE: "sha256:" + "a" * 64})
    desired = _desired(PullPolicy.MISSING)
    observed = engine.observe(desired)
    assert observed.images[IMAGE]
    apply(plan(desired, observed), engine, NullReporter(), present_images=observed.images)
    assert engine.asked == []
    assert len(engine.observe(desired).containers) == 3


@pytest.mark.parametrize(
    ("policy", "present", "asked"),
    [
        (PullPolicy.MISSING, False, 1),  # not listed: pull it, once for three services
        (PullPolicy.ALWAYS, True, 1),  # always: the engine decides, listed or not
    ],
)
def test_the_engine_is_asked_when_the_observe_cannot_answer(
    policy: PullPolicy, present: bool, asked: int
) -> None:
    digest = "sha256:" + "b" * 64
    engine = CountingEngine(images={IMAGE: digest} if present else {}, registry={IMAGE: digest})
    desired = _desired(policy)
    observed = engine.observe(desired)
    apply(plan(desired, observed), engine, NullReporter(), present_images=observed.images)
    assert engine.asked == [IMAGE] * asked


def test_a_shared_image_that_cannot_be_had_fails_each_service_once_in_its_own_name() -> None:
    from envkit.errors import ApplyError

    engine = CountingEngine(images={}, registry={})  # nowhere to pull it from
    desired = _desired(PullPolicy.MISSING)
    with pytest.raises(ApplyError) as caught:
        apply(plan(desired, engine.observe(desired)), engine, NullReporter())
    err = caught.value
    assert engine.asked == [IMAGE]  # one pull for three services
    assert err.message == "3 services failed:"
    lines = (err.detail or "").splitlines()
    assert len(lines) == 3, lines
    first, *rest = lines
    asked_by = first.split(":")[0]  # "service svcN"; the one that pulled
    assert asked_by.startswith("service svc") and "not available" not in first
    others = {f"service svc{i}" for i in range(3)} - {asked_by}
    assert {line.split(":")[0] for line in rest} == others
    for line in rest:
        assert line.endswith(f"is not available: getting it failed for {asked_by}")

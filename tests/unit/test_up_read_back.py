"""``up``'s convergence check (read the engine back, plan again) runs inside the start
check's settle window instead of after it, and still judges the containers' states as the
start check saw them once the window was over. FakeEngine; the real settle time."""

from __future__ import annotations

import time
from collections.abc import Mapping

from envkit.engine.base import ObservedContainer, ObservedState
from envkit.engine.fake import FakeEngine
from envkit.model import LABEL, DesiredState, ServiceSpec
from envkit.reconcile import up
from envkit.reconcile.readiness import START_SETTLE_S

IMAGE = "app:1"


class Timed(FakeEngine):
    """Records when each full observe and each label-filtered list happened; after
    the first observe that follows a start, the service ``api`` exits with code 0
    (a server that stops by itself, inside the settle window)."""

    def __init__(self) -> None:
        super().__init__()
        self.add_image(IMAGE)
        self.observes: list[float] = []
        self.lists: list[float] = []
        self.started_at: float | None = None

    def start_container(self, container_id: str) -> None:
        super().start_container(container_id)
        self.started_at = time.monotonic()

    def observe(self, desired: DesiredState) -> ObservedState:
        seen = super().observe(desired)
        self.observes.append(time.monotonic())
        if self.started_at is not None and len(self.observes) == 2:
            self.set_state("shop-dev-api-1", "exited", exit_code=0)
        return seen

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ObservedContainer]:
        self.lists.append(time.monotonic())
        return super().list_containers(labels)


def desired() -> DesiredState:
    # restart "unless-stopped": a stop is not a finished one-shot job, so it is reported
    return DesiredState("shop", "dev", None, (ServiceSpec("api", IMAGE, restart="unless-stopped"),))


def test_the_read_back_overlaps_the_settle_time_and_states_come_from_after_it() -> None:
    engine = Timed()
    began = time.monotonic()
    result = up(desired(), engine)
    took = time.monotonic() - began

    assert engine.started_at is not None
    plan_observe, read_back = engine.observes  # the plan's observe, then the convergence check's
    # The read-back came before the settle window ended, the start check's list after.
    assert plan_observe < engine.started_at
    assert read_back < engine.started_at + START_SETTLE_S <= engine.lists[-1]
    assert took < START_SETTLE_S + 0.25  # one settle time, nothing after it
    # The exit inside the window is seen: the container states are the later list's.
    assert result.not_running == ("shop-dev-api-1",)
    (api,) = result.containers
    assert (api.state, api.exit_code) == ("exited", 0)
    assert api.labels[LABEL.SERVICE] == "api"


def test_with_wait_the_read_back_stays_after_the_waits() -> None:
    engine = Timed()
    result = up(desired(), engine, wait=True, timeout_s=5)
    assert len(engine.observes) == 2
    assert engine.started_at is not None
    # Without a healthcheck "ready" means running for SETTLE_S: the read-back follows it.
    assert engine.observes[-1] >= engine.started_at + START_SETTLE_S
    assert result.not_running == ()  # api exited only after the read-back

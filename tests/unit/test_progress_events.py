"""What up and down tell the reporter, on FakeEngine: every object they touch ends in a
final state (the network too, a wait too, a no-op too), failures land on the container
that failed, and the summary counts what was done."""

from __future__ import annotations

import threading

import pytest

from envkit.engine.fake import FakeEngine
from envkit.engine.fake import Outcome as Start
from envkit.errors import EnvkitError
from envkit.model import Condition, Dependency, DesiredState, Healthcheck, ServiceSpec, VolumeSpec
from envkit.progress import Board, Kind, Outcome, Subject
from envkit.reconcile import down, up

IMAGE = "app:1"
DB = ServiceSpec("db", IMAGE, healthcheck=Healthcheck(("CMD", "true")))
WEB = ServiceSpec("web", IMAGE, depends_on=(Dependency("db", Condition.HEALTHY),), replicas=2)


class Recorder:
    """A Reporter keeping a Board (the displays' model) and every event."""

    def __init__(self) -> None:
        self.board = Board()
        self.events: list[tuple[Subject, str, Outcome | None]] = []
        self._lock = threading.Lock()

    def step(self, subject: Subject, message: str, outcome: Outcome | None = None) -> None:
        with self._lock:
            self.events.append((subject, message, outcome))
            self.board.step(subject, message, outcome)

    def output(self, subject: Subject, line: str) -> None:
        pass

    def states(self) -> dict[str, tuple[str, Outcome | None]]:
        return {s.name: (line.state, line.outcome) for s, line in self.board.lines.items()}

    def counts(self) -> str:
        return self.board.summary().rsplit(" in ", 1)[0]


@pytest.fixture
def engine() -> FakeEngine:
    eng = FakeEngine()
    eng.add_image(IMAGE)
    return eng


def desired(*services: ServiceSpec) -> DesiredState:
    return DesiredState("shop", "dev", None, services, (VolumeSpec("data"),))


def test_fresh_up_with_wait_ends_every_line(engine: FakeEngine) -> None:
    rec = Recorder()
    up(desired(DB, WEB), engine, reporter=rec, wait=True, timeout_s=5)
    assert rec.states() == {
        "shop-dev": ("created", Outcome.CREATED),
        "shop-dev_data": ("created", Outcome.CREATED),
        "shop-dev-db-1": ("healthy", Outcome.HEALTHY),
        "shop-dev-web-1": ("ready", Outcome.READY),
        "shop-dev-web-2": ("ready", Outcome.READY),
    }
    kinds = {s.name: (s.kind, s.service) for s in rec.board.lines}
    assert kinds["shop-dev"] == (Kind.NETWORK, None)
    assert kinds["shop-dev_data"] == (Kind.VOLUME, None)
    assert kinds["shop-dev-web-2"] == (Kind.CONTAINER, "web")
    # the wait for db is shown on web's containers, never on a bare service name
    waits = [(s.name, m) for s, m, _ in rec.events if m.startswith("waiting for")]
    assert waits == [
        ("shop-dev-web-1", "waiting for shop-dev-db-1 (service_healthy)"),
        ("shop-dev-web-2", "waiting for shop-dev-db-1 (service_healthy)"),
    ]
    assert rec.counts() == "5 created"


def test_a_no_op_reports_unchanged_with_and_without_wait(engine: FakeEngine) -> None:
    up(desired(DB, WEB), engine, wait=True, timeout_s=5)
    quiet = Recorder()
    up(desired(DB, WEB), engine, reporter=quiet)
    assert {o for _, o in quiet.states().values()} == {Outcome.UNCHANGED}
    assert quiet.counts() == "no changes, 3 unchanged"

    waited = Recorder()
    up(desired(DB, WEB), engine, reporter=waited, wait=True, timeout_s=5)
    assert waited.states()["shop-dev-db-1"] == ("healthy", Outcome.HEALTHY)
    assert waited.states()["shop-dev-web-1"] == ("ready", Outcome.READY)
    assert waited.counts() == "no changes, 3 unchanged"


def test_a_recreate_and_a_start(engine: FakeEngine) -> None:
    up(desired(DB, WEB), engine, wait=True, timeout_s=5)
    web1 = next(c for c in engine.containers.values() if c.name == "shop-dev-web-1")
    web1.state = "exited"
    rec = Recorder()
    changed = ServiceSpec("db", IMAGE, healthcheck=DB.healthcheck, environment=(("MODE", "b"),))
    up(desired(changed, WEB), engine, reporter=rec)
    assert rec.states()["shop-dev-db-1"] == ("recreated", Outcome.RECREATED)
    assert rec.states()["shop-dev-web-1"] == ("started", Outcome.STARTED)
    assert rec.counts() == "1 recreated, 1 started, 1 unchanged"


def test_a_failure_lands_on_its_container_and_its_dependents_are_not_started(
    engine: FakeEngine,
) -> None:
    engine.outcomes["db"] = Start(health="unhealthy", logs="db: cannot open data dir\n")
    rec = Recorder()
    with pytest.raises(EnvkitError):
        up(desired(DB, WEB), engine, reporter=rec, timeout_s=5)
    states = rec.states()
    assert states["shop-dev-db-1"][1] is Outcome.CREATED  # db itself was created and started
    for web in ("shop-dev-web-1", "shop-dev-web-2"):
        state, outcome = states[web]
        assert outcome is Outcome.FAILED and state.startswith("failed: "), state
        assert "shop-dev-db-1" in state
    assert all(o is not None for _, o in states.values())
    assert rec.counts() == "3 created, 2 failed"


def test_down_removes_and_keeps_volumes_per_object(engine: FakeEngine) -> None:
    up(desired(DB, WEB), engine, wait=True, timeout_s=5)
    rec = Recorder()
    down(desired(DB, WEB), engine, reporter=rec)
    assert rec.states()["shop-dev_data"] == ("kept (use --volumes to remove)", Outcome.KEPT)
    assert rec.states()["shop-dev"] == ("removed", Outcome.REMOVED)
    assert rec.counts() == "4 removed, 1 kept"
    rec = Recorder()
    down(desired(DB, WEB), engine, reporter=rec, volumes=True)
    assert rec.states() == {"shop-dev_data": ("removed", Outcome.REMOVED)}

"""gc as a library (envkit.reconcile.gc, envkit.gc) on FakeEngine: what it removes, skips and
keeps, and what it says it removed from an instance whose removal then failed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import envkit
from envkit.api import Stack, load
from envkit.engine.fake import FakeEngine
from envkit.errors import EngineError, UsageError
from envkit.model import LABEL
from envkit.reconcile.gc import Failed, Reaped, Skipped, SkipReason, collect_garbage
from envkit.reconcile.lock import instance_lock

IMAGE = "busybox:test"
STACK = f"""\
stack: shop
environments: {{ci: {{}}}}
services:
  db:
    image: {IMAGE}
    volumes: ["data:/var/lib/db"]
  web:
    image: {IMAGE}
    depends_on: [db]
volumes:
  data: {{}}
"""


@pytest.fixture(autouse=True)
def own_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVKIT_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def engine() -> FakeEngine:
    eng = FakeEngine()
    eng.add_image(IMAGE)
    return eng


@pytest.fixture
def stack(tmp_path: Path, engine: FakeEngine) -> Stack:
    path = tmp_path / "envkit.yaml"
    path.write_text(STACK)
    return load(path, engine=engine)


def later(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


def names(engine: FakeEngine) -> set[str]:
    return {c.name for c in engine.containers.values()} | set(engine.networks) | set(engine.volumes)


def test_expired_instances_go_whole_and_the_rest_stays(stack: Stack, engine: FakeEngine) -> None:
    stack.up("ci", instance="old", ttl="1h")
    stack.up("ci", instance="new", ttl="5h")
    stack.up("ci", instance="kept")  # no expiry: only --older-than with include_unexpiring
    engine.add_foreign_container("not-envkits")
    engine.add_foreign_volume("shop-ci-old_unlabelled")
    result = collect_garbage(engine, clock=lambda: later(2))
    assert [r.project for r in result.reaped] == ["shop-ci-old"]
    (reaped,) = result.reaped
    assert reaped.removed.containers == ("shop-ci-old-db-1", "shop-ci-old-web-1")
    assert reaped.removed.networks == ("shop-ci-old",)
    assert reaped.removed.volumes == ("shop-ci-old.envkit-lease", "shop-ci-old_data")
    assert result.skipped == () and result.failed == ()
    left = names(engine)
    assert not any(n.startswith("shop-ci-old") and n != "shop-ci-old_unlabelled" for n in left)
    assert {
        "not-envkits",
        "shop-ci-old_unlabelled",
        "shop-ci-new-db-1",
        "shop-ci-kept-db-1",
    } <= left


def test_dry_run_lists_and_removes_nothing(stack: Stack, engine: FakeEngine) -> None:
    stack.up("ci", instance="old", ttl="1h")
    engine.calls.clear()
    result = collect_garbage(engine, dry_run=True, clock=lambda: later(2))
    assert result.dry_run and [r.project for r in result.reaped] == ["shop-ci-old"]
    assert result.reaped[0].removed.containers == ("shop-ci-old-db-1", "shop-ci-old-web-1")
    assert engine.mutating_calls == []


def test_older_than_and_unexpiring(stack: Stack, engine: FakeEngine) -> None:
    stack.up("ci", instance="kept")
    assert collect_garbage(engine, older_than_s=60, clock=lambda: later(2)).outcomes == ()
    result = collect_garbage(
        engine, older_than_s=60, include_unexpiring=True, clock=lambda: later(2)
    )
    assert [r.project for r in result.reaped] == ["shop-ci-kept"]


def test_an_instance_another_envkit_holds_is_skipped(stack: Stack, engine: FakeEngine) -> None:
    stack.up("ci", instance="old", ttl="1h")
    with instance_lock("shop-ci-old", engine_id=engine.identity):
        result = collect_garbage(engine, lock_timeout_s=0, clock=lambda: later(2))
    assert [(s.project, s.reason) for s in result.skipped] == [("shop-ci-old", SkipReason.LOCKED)]
    assert "shop-ci-old-db-1" in names(engine)


def test_an_instance_renewed_meanwhile_is_kept(stack: Stack, engine: FakeEngine) -> None:
    stack.up("ci", instance="old", ttl="1h")
    times = iter([later(2), later(0)])  # listed when expired, read again before it expired
    result = collect_garbage(engine, clock=lambda: next(times))
    assert [(s.project, s.reason) for s in result.skipped] == [("shop-ci-old", SkipReason.RENEWED)]
    assert isinstance(result.outcomes[0], Skipped)


class NetworkStuck(FakeEngine):
    """dockerd keeping a stale endpoint: the network cannot be removed."""

    def remove_network(self, name: str) -> None:
        raise EngineError(f"cannot remove network {name}: has active endpoints")


def test_a_failed_removal_says_what_it_removed_before(tmp_path: Path) -> None:
    engine = NetworkStuck()
    engine.add_image(IMAGE)
    path = tmp_path / "envkit.yaml"
    path.write_text(STACK)
    load(path, engine=engine).up("ci", instance="old", ttl="1h")
    heard: list[object] = []
    result = collect_garbage(engine, clock=lambda: later(2), on_outcome=heard.append)
    (failed,) = result.failed
    assert isinstance(failed, Failed) and heard == [failed]
    assert "active endpoints" in failed.error.message
    assert failed.removed.containers == ("shop-ci-old-db-1", "shop-ci-old-web-1")
    assert failed.removed.networks == () and failed.removed.volumes == ()
    assert not engine.list_containers({LABEL.PROJECT: "shop-ci-old"})


def test_the_python_api(stack: Stack, engine: FakeEngine) -> None:
    stack.up("ci", instance="old", ttl="1h")
    stack.up("ci", instance="kept")
    assert envkit.gc(engine=engine).outcomes == ()  # nothing expired yet
    # the fake's containers were created in 2024: older than a second
    dry = envkit.gc(engine=engine, older_than="1s", include_unexpiring=True, dry_run=True)
    assert [r.project for r in dry.reaped] == ["shop-ci-kept", "shop-ci-old"]
    assert engine.list_containers({LABEL.PROJECT: None})
    done = envkit.gc(engine=engine, older_than="1s", include_unexpiring=True)
    assert all(isinstance(r, Reaped) for r in done.reaped) and len(done.reaped) == 2
    assert engine.list_containers({LABEL.PROJECT: None}) == []
    with pytest.raises(UsageError, match="include_unexpiring needs older_than"):
        envkit.gc(engine=engine, include_unexpiring=True)
    with pytest.raises(UsageError, match="older_than"):
        envkit.gc(engine=engine, older_than="soon")
    # A Swarm goes by its leases only (tests/cluster/test_swarm_ops.py runs it for real).
    with pytest.raises(UsageError, match="older_than, engine does not go with swarm"):
        envkit.gc(swarm="unix:///nonexistent.sock", older_than="1d", engine=engine)


def test_the_cli_reports_what_a_failed_removal_removed(tmp_path: Path) -> None:
    from envkit.cli.commands.gc import gc_json

    engine = NetworkStuck()
    engine.add_image(IMAGE)
    path = tmp_path / "envkit.yaml"
    path.write_text(STACK)
    load(path, engine=engine).up("ci", instance="old", ttl="1h")
    doc = gc_json(collect_garbage(engine, clock=lambda: later(2)))
    assert doc["removed"] == []
    (failed,) = doc["failed"]
    assert failed["project"] == "shop-ci-old" and "active endpoints" in failed["error"]
    assert failed["containers"] == ["shop-ci-old-db-1", "shop-ci-old-web-1"]
    assert failed["networks"] == [] and failed["volumes"] == []


def test_a_swarm_stacks_task_containers_are_never_reaped(stack: Stack, engine: FakeEngine) -> None:
    """On a Swarm node the tasks' containers carry the stack's labels; removing them would
    fight the Swarm (it starts them again): gc skips the stack and says so."""
    stack.up("ci", instance="old", ttl="1h")
    swarm = {LABEL.PROJECT: "shop-cluster", "com.docker.swarm.service.id": "abc"}
    engine.add_foreign_container("shop-cluster_web.1.xyz", labels=swarm)
    result = collect_garbage(
        engine, older_than_s=1, include_unexpiring=True, clock=lambda: later(2)
    )
    assert [r.project for r in result.reaped] == ["shop-ci-old"]
    assert [(s.project, s.reason) for s in result.skipped] == [("shop-cluster", SkipReason.SWARM)]
    assert "shop-cluster_web.1.xyz" in names(engine)

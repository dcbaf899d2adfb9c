"""Leases of Swarm stacks and their gc (envkit.reconcile.swarm_gc), on an in-memory stand-in
for the manager: what expired goes whole, what was renewed meanwhile or has no lease stays,
a dry run removes nothing, and a new lease replaces the old one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from envkit.engine.swarm_base import ObservedService, ObservedSwarm, ObservedSwarmObject
from envkit.model import LABEL
from envkit.reconcile.expiry import format_time
from envkit.reconcile.gc import Reaped, SkipReason
from envkit.reconcile.swarm_gc import collect_swarm_garbage, lease_expiry, write_lease

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def own_locks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVKIT_STATE_DIR", str(tmp_path / "state"))


class Manager:
    def __init__(self) -> None:
        self.services: dict[str, list[ObservedService]] = {}
        self.objects: dict[str, list[ObservedSwarmObject]] = {}
        self.removed: list[str] = []
        self.on_observe: Any = None

    def stack(self, project: str, *, lease: datetime | None) -> None:
        svc = ObservedService(f"id-{project}", f"{project}_web", "web", 3, {LABEL.PROJECT: project})
        self.services[project] = [svc]
        labels = {LABEL.PROJECT: project}
        self.objects[project] = [ObservedSwarmObject(f"n-{project}", f"{project}_default",
                                                     "network", labels)]  # fmt: skip
        if lease is not None:
            self.lease(project, lease)

    def lease(self, project: str, moment: datetime) -> None:
        labels = {LABEL.PROJECT: project, LABEL.EXPIRES: format_time(moment),
                  "io.envkit.state": "lease", LABEL.ENV: "ci"}  # fmt: skip
        lease = ObservedSwarmObject(f"l-{project}-{moment:%H%M}", f"{project}_lease", "lease",
                                    labels)  # fmt: skip
        self.objects[project] = [o for o in self.objects[project] if o.kind != "lease"] + [lease]

    def list_leases(self) -> list[ObservedSwarmObject]:
        return [o for objs in self.objects.values() for o in objs if o.kind == "lease"]

    def observe_swarm(self, project: str) -> ObservedSwarm:
        if self.on_observe is not None:
            self.on_observe(project)
        return ObservedSwarm(project, tuple(self.services.get(project, [])),
                             tuple(self.objects.get(project, [])))  # fmt: skip

    def remove_service(self, service_id: str) -> None:
        self.removed.append(service_id)
        for project, svcs in self.services.items():
            self.services[project] = [s for s in svcs if s.id != service_id]

    def remove_object(self, kind: str, object_id: str) -> None:
        self.removed.append(object_id)
        for project, objs in self.objects.items():
            self.objects[project] = [o for o in objs if o.id != object_id]

    def containers_left(self, service_ids: list[str]) -> int:
        return 0

    def create_object(self, kind: str, name: str, data: bytes, labels: Mapping[str, str]) -> str:
        project = labels[LABEL.PROJECT]
        self.objects.setdefault(project, []).append(
            ObservedSwarmObject(f"c-{name}", name, "lease", dict(labels))
        )
        return f"c-{name}"


def _collect(manager: Manager, **kwargs: Any) -> Any:
    return collect_swarm_garbage(
        manager,  # type: ignore[arg-type]
        manager.list_leases,
        engine_id="swarm:test",
        clock=lambda: NOW,
        **kwargs,
    )


def test_an_expired_stack_goes_whole_and_the_others_stay() -> None:
    m = Manager()
    m.stack("old", lease=NOW - timedelta(minutes=1))
    m.stack("new", lease=NOW + timedelta(hours=1))
    m.stack("forever", lease=None)
    result = _collect(m)
    [reaped] = result.reaped
    assert reaped.project == "old" and result.skipped == () and result.failed == ()
    assert reaped.removed.services == ("old_web",) and reaped.removed.networks == ("old_default",)
    assert reaped.candidate.labels[LABEL.ENV] == "ci"  # the lease's labels name the stack
    assert m.services["old"] == [] and m.objects["old"] == []  # the lease went too
    assert m.services["new"] and m.services["forever"]


def test_a_dry_run_removes_nothing() -> None:
    m = Manager()
    m.stack("old", lease=NOW - timedelta(minutes=1))
    result = _collect(m, dry_run=True)
    assert [r.project for r in result.reaped] == ["old"] and m.removed == []


def test_a_lease_renewed_before_the_lock_keeps_the_stack() -> None:
    m = Manager()
    m.stack("old", lease=NOW - timedelta(minutes=1))
    m.on_observe = lambda project: m.lease(project, NOW + timedelta(hours=2))  # an up --ttl won
    result = _collect(m)
    assert [(s.project, s.reason) for s in result.skipped] == [("old", SkipReason.RENEWED)]
    assert m.removed == [] and not any(isinstance(o, Reaped) for o in result.outcomes)


def test_a_new_lease_replaces_the_old_one() -> None:
    m = Manager()
    m.stack("p", lease=NOW)
    later = format_time(NOW + timedelta(hours=3))
    write_lease(m, m.observe_swarm("p"), {LABEL.ENV: "ci"}, later)  # type: ignore[arg-type]
    leases = [o for o in m.objects["p"] if o.kind == "lease"]
    assert len(leases) == 1 and leases[0].labels[LABEL.EXPIRES] == later
    assert lease_expiry(m.observe_swarm("p")) == NOW + timedelta(hours=3)
    write_lease(m, m.observe_swarm("p"), {LABEL.ENV: "ci"}, later)  # type: ignore[arg-type]
    assert [o.name for o in m.objects["p"] if o.kind == "lease"] == [leases[0].name]  # no churn

"""Narrowing a plan to some services (``up/plan SERVICE...``): dependencies come along,
the other services are neither planned nor pruned."""

from __future__ import annotations

from plan_fixtures import DB, WEB, desired, rows, seen, world

from envkit.model import Dependency, ServiceSpec, VolumeSpec
from envkit.reconcile.plan import plan
from envkit.reconcile.scope import scope_desired, scope_observed, with_dependencies

JOB = ServiceSpec(name="job", image="web:1", depends_on=(Dependency("web"),))
CRON = ServiceSpec(name="cron", image="web:1")


def test_dependencies_are_followed_transitively() -> None:
    d = desired(DB, WEB, JOB, CRON)
    assert with_dependencies(d, ["job"]) == {"job", "web", "db"}
    assert with_dependencies(d, ["cron"]) == {"cron"}
    assert with_dependencies(d, ["db", "cron"]) == {"db", "cron"}


def test_a_scoped_plan_shows_only_the_scope_and_prunes_nothing_else() -> None:
    d = desired(DB, WEB, CRON, volumes=(VolumeSpec("data"), VolumeSpec("other")))
    gone = ServiceSpec(name="old", image="web:1")  # no longer in the stack
    observed = world(seen(DB), seen(CRON, state="exited"), seen(gone))
    scope = with_dependencies(d, ["cron"])
    narrowed = scope_desired(d, scope)
    assert [s.name for s in narrowed.services] == ["cron"] and narrowed.volumes == ()
    assert rows(plan(narrowed, scope_observed(observed, scope))) == [
        ("START", "shop-dev-cron-1", ("exited, will be started",))
    ]
    db_scope = with_dependencies(d, ["db"])
    assert [v.name for v in scope_desired(d, db_scope).volumes] == ["data"]

"""Anonymous volumes carried over on recreate, as Compose does (pure planner side)."""

from __future__ import annotations

from dataclasses import replace

from plan_fixtures import IMG, P, desired, seen

from envkit.engine.base import ObservedState
from envkit.engine.fake import FakeEngine
from envkit.model import Mount, MountType, ServiceSpec, VolumeSpec
from envkit.reconcile.anonymous import carried_volumes
from envkit.reconcile.changes import Action
from envkit.reconcile.plan import plan
from envkit.reconcile.present import plan_json, plan_text
from envkit.reconcile.verbs import down, up

APP = ServiceSpec(
    name="app",
    image="web:1",
    environment=(("X", "1"),),
    mounts=(
        Mount(MountType.VOLUME, "/data"),  # bare: anonymous
        Mount(MountType.VOLUME, "/named", "cache"),
        Mount(MountType.BIND, "/conf", "/srv/conf"),
    ),
)
CHANGED = replace(APP, environment=(("X", "2"),))
STACK = desired(CHANGED, volumes=(VolumeSpec("cache"),))
MOUNTED = (
    ("/data", "a" * 64),
    ("/named", f"{P}_cache"),
    ("/var/lib/app", "b" * 64),  # the image's VOLUME: not an entry of the service
)


def test_the_compose_rule() -> None:
    before = replace(seen(APP), volume_mounts=MOUNTED)
    assert carried_volumes(STACK, before, CHANGED) == (
        ("/data", "a" * 64),
        ("/var/lib/app", "b" * 64),
    )


def test_a_bare_entry_the_stack_dropped_is_not_carried() -> None:
    before = replace(seen(APP), volume_mounts=MOUNTED)
    dropped = replace(CHANGED, mounts=CHANGED.mounts[1:])
    assert carried_volumes(STACK, before, dropped) == (("/var/lib/app", "b" * 64),)


def test_an_explicit_mount_at_the_path_wins() -> None:
    before = replace(seen(APP), volume_mounts=MOUNTED)
    bound = replace(
        CHANGED, mounts=(*CHANGED.mounts, Mount(MountType.BIND, "/var/lib/app", "/srv/app"))
    )
    assert carried_volumes(STACK, before, bound) == (("/data", "a" * 64),)
    in_tmpfs = replace(CHANGED, tmpfs=("/var/lib/app:size=1m",))
    assert carried_volumes(STACK, before, in_tmpfs) == (("/data", "a" * 64),)


def _world(before: object) -> ObservedState:
    return ObservedState(project=P, containers=(before,), images=IMG)  # type: ignore[arg-type]


def test_plan_says_which_volumes_carry_over_and_minus_v_renews_them() -> None:
    before = replace(seen(APP), volume_mounts=MOUNTED)
    p = plan(STACK, _world(before))
    (change,) = [c for c in p.changes if c.service == "app"]
    assert change.action is Action.RECREATE
    assert change.carried == (("/data", "a" * 64), ("/var/lib/app", "b" * 64))
    text = plan_text(p)
    assert "      = keeps anonymous volume /data (aaaaaaaaaaaa)" in text
    assert "      = keeps anonymous volume /var/lib/app (bbbbbbbbbbbb)" in text
    recreate = next(c for c in plan_json(p)["changes"] if c["action"] == "recreate")
    assert recreate["carried_volumes"][0] == {"target": "/data", "volume": "a" * 64}
    renewed = plan(STACK, _world(before), renew_anon_volumes=True)
    assert next(c for c in renewed.changes if c.service == "app").carried == ()


def test_up_recreates_with_the_old_volume_and_down_keeps_it_until_volumes() -> None:
    engine = FakeEngine(images=IMG)
    first = desired(APP, volumes=(VolumeSpec("cache"),))
    up(first, engine)
    (old,) = engine.observe(first).containers
    anon = dict(old.volume_mounts)["/data"]
    assert engine.volumes[anon]["io.envkit.anonymous"] == "/data"
    up(STACK, engine)
    (new,) = engine.observe(STACK).containers
    assert new.id != old.id
    assert dict(new.volume_mounts)["/data"] == anon  # carried over
    up(
        replace(STACK, services=(replace(CHANGED, environment=()),)),
        engine,
        renew_anon_volumes=True,
    )
    (renewed,) = engine.observe(STACK).containers
    assert dict(renewed.volume_mounts)["/data"] != anon
    down(STACK, engine)
    assert anon in engine.volumes  # down keeps anonymous volumes, as Compose does
    down(STACK, engine, volumes=True)
    assert anon not in engine.volumes

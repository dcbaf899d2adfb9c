"""Plan-time warnings for environment changes that an existing data volume will not see
(envkit.reconcile.initenv): table-driven against the fake engine, and shown in both the
text and the JSON plan."""

from __future__ import annotations

from dataclasses import replace

import pytest

from envkit.engine.fake import FakeEngine
from envkit.model import DesiredState, Mount, MountType, ServiceSpec, VolumeSpec
from envkit.progress import NullReporter
from envkit.reconcile.apply import apply
from envkit.reconcile.changes import Plan
from envkit.reconcile.initenv import CODE
from envkit.reconcile.plan import plan
from envkit.reconcile.present import plan_json, plan_text

IMAGE = "db:1"
DATA = Mount(MountType.VOLUME, "/var/lib/mysql", "data")


def _desired(
    env: dict[str, str], *, mounts: tuple[Mount, ...] = (DATA,), **kw: object
) -> DesiredState:
    return DesiredState(
        stack="s",
        environment="e",
        instance=None,
        services=(
            ServiceSpec(
                name="db", image=IMAGE, environment=tuple(sorted(env.items())), mounts=mounts, **kw
            ),  # type: ignore[arg-type]
        ),
        volumes=(VolumeSpec("data"),),
    )


def _after_change(first: DesiredState, second: DesiredState) -> Plan:
    engine = FakeEngine(images={IMAGE: "sha256:" + "a" * 64})
    apply(plan(first, engine.observe(first)), engine, NullReporter())
    return plan(second, engine.observe(second))


BEFORE = {"PASSWORD": "old", "MODE": "a"}


@pytest.mark.parametrize(
    ("after", "extra", "warned"),
    [
        ({"PASSWORD": "new", "MODE": "a"}, {}, ["PASSWORD"]),  # unmarked: every change
        ({"PASSWORD": "old", "MODE": "b"}, {}, ["MODE"]),
        ({"PASSWORD": "new", "MODE": "b"}, {}, ["MODE", "PASSWORD"]),
        ({"PASSWORD": "new", "MODE": "a", "NEW": "1"}, {}, ["NEW", "PASSWORD"]),  # added
        ({"PASSWORD": "new", "MODE": "b"}, {"init_env": frozenset({"PASSWORD"})}, ["PASSWORD"]),
        ({"PASSWORD": "old", "MODE": "b"}, {"init_env": frozenset({"PASSWORD"})}, []),
        ({"PASSWORD": "new", "MODE": "b"}, {"init_env": frozenset()}, []),  # [] turns it off
        ({"PASSWORD": "old", "MODE": "a"}, {"mem_limit": 64 << 20}, []),  # no env change
    ],
)
def test_an_env_change_over_an_existing_volume_is_warned_about(
    after: dict[str, str], extra: dict[str, object], warned: list[str]
) -> None:
    result = _after_change(_desired(BEFORE), _desired(after, **extra))
    assert [c.action.name for c in result.changes if c.service] == ["RECREATE"]
    if not warned:
        assert result.warnings == ()
        return
    (w,) = result.warnings
    assert (w.code, w.service) == (CODE, "db")
    verb = "changes" if len(warned) == 1 else "change"
    assert w.message.startswith(f"service db: environment {', '.join(warned)} {verb}, ")
    assert "its volume s-e_data already exists" in w.message
    assert ("init_env" in (w.hint or "")) == ("init_env" not in extra)


def test_no_warning_without_a_named_volume_or_before_the_volume_exists() -> None:
    anonymous = (Mount(MountType.VOLUME, "/var/lib/mysql", ""),)
    result = _after_change(
        _desired(BEFORE, mounts=anonymous), _desired({"PASSWORD": "new"}, mounts=anonymous)
    )
    assert result.warnings == ()
    # First up: nothing exists yet, the variables will be read.
    fresh = FakeEngine(images={IMAGE: "sha256:" + "a" * 64})
    desired = _desired(BEFORE)
    assert plan(desired, fresh.observe(desired)).warnings == ()


def test_a_replicated_service_is_warned_about_once() -> None:
    first = _desired(BEFORE)
    first = replace(first, services=(replace(first.services[0], replicas=3),))
    second = replace(
        first, services=(replace(first.services[0], environment=(("PASSWORD", "x"),)),)
    )
    assert len(_after_change(first, second).warnings) == 1


def test_the_warning_is_in_the_text_and_json_plans_and_names_no_value() -> None:
    first = _desired(BEFORE)
    second = _desired({"PASSWORD": "s3cret-new", "MODE": "a"})
    result = _after_change(first, second)
    text = plan_text(result)
    assert "warning[init-env-changed]: service db: environment PASSWORD changes" in text
    assert "  hint: change it inside the service as well" in text
    assert text.index("warning[") < text.index("Plan: ")
    data = plan_json(result)
    assert [w["code"] for w in data["warnings"]] == [CODE]
    # It names the variables, never their values.
    assert "s3cret-new" not in result.warnings[0].message + str(result.warnings[0].hint)


def test_marking_init_env_recreates_nothing() -> None:
    from envkit.canonical import spec_hash

    spec = _desired(BEFORE).services[0]
    assert spec_hash(spec) == spec_hash(replace(spec, init_env=frozenset({"PASSWORD"})))

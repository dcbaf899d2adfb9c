"""Upgrades and secrets: containers labelled by the previous spec hash version are kept when
they still match; a secret never shows, old or new; a spec hashed under another key is
recreated with that reason."""

from __future__ import annotations

import json
from dataclasses import replace

from plan_fixtures import DB, IMG, KEY, WEB, P, world

from envkit.canonical import canonical_spec, spec_hash
from envkit.engine.base import ObservedContainer
from envkit.model import DesiredState, Healthcheck, PortSpec, SecretKey, Secrets, ServiceSpec
from envkit.reconcile import legacy
from envkit.reconcile.plan import OTHER_KEY, plan
from envkit.reconcile.present import plan_json, plan_text

OLD_PW, NEW_PW = "OldPassw0rd-1", "NewPassw0rd-2"


def app(password: str) -> ServiceSpec:
    """A service that uses its secret in every place a label used to leak it."""
    return ServiceSpec(
        name="app",
        image="web:1",
        command=("serve", f"--db-password={password}"),
        environment=(("DB_PASSWORD", password), ("MODE", "a")),
        sensitive_env=frozenset({"DB_PASSWORD"}),
        healthcheck=Healthcheck(("CMD-SHELL", f"test -n {password}"), interval_s=2.0),
        labels=(("dsn", f"mysql://app:{password}@db/app"),),
        ports=(PortSpec(80, host_ip="127.0.0.1", published=8080),),
        mem_limit=64 * 1024**2,
        restart="always",
    )


def stack(*services: ServiceSpec, password: str, key: SecretKey = KEY) -> DesiredState:
    return DesiredState(
        "shop", "dev", None, services, sensitive_values=frozenset({password}), secret_key=key
    )


def observed(
    spec: ServiceSpec, *, spec_hash: str, recorded: dict[str, object]
) -> ObservedContainer:
    return ObservedContainer(
        id=f"id-{spec.name}",
        name=f"{P}-{spec.name}-1",
        project=P,
        service=spec.name,
        replica=1,
        spec_hash=spec_hash,
        spec=json.loads(json.dumps(recorded)),  # what reading the label gives back
        image_id=IMG[spec.image],
        state="running",
    )


def made_by_v1(spec: ServiceSpec) -> ObservedContainer:
    """A container that envkit with SPEC_HASH_VERSION 1 made (its two labels)."""
    return observed(
        spec, spec_hash=legacy.spec_hash_v1(spec), recorded=legacy.canonical_spec_v1(spec)
    )


def made_by_v2(spec: ServiceSpec, password: str, key: SecretKey = KEY) -> ObservedContainer:
    secrets = Secrets(frozenset({password}), key)
    return observed(
        spec, spec_hash=spec_hash(spec, secrets), recorded=canonical_spec(spec, secrets)
    )


def shown(desired: DesiredState, *containers: ObservedContainer) -> str:
    p = plan(desired, world(*containers))
    return plan_text(p) + plan_text(p, verbose=True) + json.dumps(plan_json(p))


def test_a_stack_made_by_the_previous_hash_version_plans_no_changes() -> None:
    services = (DB, WEB, app(OLD_PW))
    containers = [made_by_v1(DB), made_by_v1(app(OLD_PW))]
    containers += [
        replace(made_by_v1(WEB), name=f"{P}-web-{n}", replica=n, id=f"w{n}") for n in (1, 2)
    ]
    p = plan(stack(*services, password=OLD_PW), world(*containers))
    assert not p.has_changes, plan_text(p)
    assert plan_text(p) == "No changes. shop-dev matches the stack."


def test_a_previous_version_container_that_changed_is_diffed_under_the_old_rules() -> None:
    new = replace(app(OLD_PW), environment=(("DB_PASSWORD", OLD_PW), ("MODE", "c")))
    p = plan(stack(new, password=OLD_PW), world(made_by_v1(app(OLD_PW))))
    (change,) = [c for c in p.changes if c.action.name == "RECREATE"]
    # The recorded text of a version-1 label may hold an old secret in clear: hidden.
    assert [(d.path, d.before, d.after) for d in change.diffs] == [
        ("environment.MODE", "(sensitive)", "c")
    ]


def test_after_a_password_change_no_password_is_shown_old_or_new() -> None:
    for before in (made_by_v1(app(OLD_PW)), made_by_v2(app(OLD_PW), OLD_PW)):
        desired = stack(app(NEW_PW), password=NEW_PW)
        p = plan(desired, world(before))
        assert p.has_changes
        out = shown(desired, before)
        assert OLD_PW not in out and NEW_PW not in out, out
        assert "(sensitive)" in out
        paths = {d.path for c in p.changes for d in c.diffs}
        assert {"command", "environment.DB_PASSWORD", "healthcheck.test", "labels.dsn"} <= paths


def test_the_same_secret_under_the_same_key_is_unchanged() -> None:
    p = plan(stack(app(OLD_PW), password=OLD_PW), world(made_by_v2(app(OLD_PW), OLD_PW)))
    assert not p.has_changes


def test_a_spec_hashed_with_another_key_is_recreated_and_says_why() -> None:
    other = SecretKey(b"someone-elses-envkit-key-0123456789")
    desired = stack(app(OLD_PW), password=OLD_PW)
    p = plan(desired, world(made_by_v2(app(OLD_PW), OLD_PW, key=other)))
    (change,) = [c for c in p.changes if c.action.name == "RECREATE"]
    assert change.reasons == (OTHER_KEY,)
    assert change.diffs == ()  # every masked value differs under another key: not listed
    assert f"      # {OTHER_KEY}" in plan_text(p)
    assert OLD_PW not in shown(desired, made_by_v2(app(OLD_PW), OLD_PW, key=other))

"""spec_hash is a stored identity: pinned here so that an upgrade that changes the hash of
an unchanged spec (and so recreates every container) fails this test unless it bumps
SPEC_HASH_VERSION on purpose."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import field, fields, make_dataclass, replace

import pytest

from envkit.canonical import SPEC_HASH_VERSION, canonical_spec, spec_hash
from envkit.errors import Origin
from envkit.model import (
    SECRET_KEY_FIELD,
    Condition,
    Dependency,
    Healthcheck,
    MissingSecretKey,
    Mount,
    MountType,
    PortSpec,
    PullPolicy,
    SecretKey,
    Secrets,
    ServiceSpec,
)
from envkit.reconcile import legacy

FIXED = ServiceSpec(
    name="db",
    image="mysql:5.7",
    command=("mysqld", "--skip-name-resolve"),
    environment=(("MYSQL_DATABASE", "shop"), ("MYSQL_ROOT_PASSWORD", "hunter2")),
    ports=(PortSpec(3306, host_ip="127.0.0.1", published=3307),),
    mounts=(
        Mount(MountType.VOLUME, "/var/lib/mysql", "data"),
        Mount(MountType.BIND, "/etc/mysql/conf.d", "/srv/conf", read_only=True),
    ),
    healthcheck=Healthcheck(("CMD", "mysqladmin", "ping"), interval_s=2.0, retries=30),
    restart="always",
    labels=(("team", "core"),),
    cap_add=("NET_ADMIN",),
    sensitive_env=frozenset({"MYSQL_ROOT_PASSWORD"}),
)

KEY = SecretKey(b"test-spec-hash-key-0123456789abcdef")
SECRETS = Secrets(key=KEY)
PINNED = "v2-4b2d0e5a64c93c19d522f2da345e3b4d"
PINNED_V1 = "v1-83c8bca65b7c73c1ac44ad9d83ed4455"  # what envkit with SPEC_HASH_VERSION 1 wrote


def test_spec_hash_is_pinned() -> None:
    assert SPEC_HASH_VERSION == 2
    assert spec_hash(FIXED, SECRETS) == PINNED


def test_the_frozen_previous_version_still_computes_what_it_wrote() -> None:
    assert legacy.spec_hash_v1(FIXED) == PINNED_V1


def test_fields_that_do_not_change_the_container_do_not_change_the_hash() -> None:
    same = replace(
        FIXED,
        name="other",
        replicas=3,
        depends_on=(Dependency("cache", Condition.HEALTHY),),
        pull_policy=PullPolicy.ALWAYS,
        origin=Origin("envkit.yaml", 3, 5),
    )
    assert spec_hash(same, SECRETS) == PINNED


def test_fields_at_their_default_value_are_left_out() -> None:
    assert canonical_spec(ServiceSpec("web", "web:1")) == {"image": "web:1"}
    assert canonical_spec(ServiceSpec("web", "web:1", ports=(PortSpec(80),))) == {
        "image": "web:1",
        "ports": [{"target": 80}],
    }
    assert canonical_spec(ServiceSpec("web", "web:1", restart="no", privileged=True)) == {
        "image": "web:1",
        "privileged": True,
    }


def test_a_field_added_later_at_its_default_changes_no_hash() -> None:
    # A later envkit with one more field: existing containers keep their hash.
    later = make_dataclass(
        "ServiceSpec",
        [("shm_size", "int | None", field(default=None))],
        bases=(ServiceSpec,),
        frozen=True,
        slots=True,
    )
    grown = later(**{f.name: getattr(FIXED, f.name) for f in fields(ServiceSpec)})
    assert spec_hash(grown, SECRETS) == PINNED
    assert spec_hash(replace(grown, shm_size=64), SECRETS) != PINNED


def test_equal_specs_built_in_any_order_hash_the_same() -> None:
    # Order-insensitive fields are normalized (sorted) into tuples before they reach the
    # model; two spellings then build equal values.
    a = replace(FIXED, environment=tuple(sorted((("B", "2"), ("A", "1")))))
    b = replace(FIXED, environment=tuple(sorted((("A", "1"), ("B", "2")))))
    assert a == b and spec_hash(a, SECRETS) == spec_hash(b, SECRETS)
    assert replace(FIXED, sensitive_env=frozenset({"MYSQL_ROOT_PASSWORD", "X"})) == replace(
        FIXED, sensitive_env=frozenset({"X", "MYSQL_ROOT_PASSWORD"})
    )


def test_every_container_field_changes_the_hash() -> None:
    changed = [
        replace(FIXED, image="mysql:8"),
        replace(FIXED, command=None),
        replace(FIXED, ports=(PortSpec(3306, host_ip="127.0.0.1", published=3308),)),
        replace(FIXED, mounts=FIXED.mounts[:1]),
        replace(FIXED, restart="no"),
        replace(FIXED, environment=(("MYSQL_DATABASE", "shop"), ("MYSQL_ROOT_PASSWORD", "x"))),
        replace(FIXED, mounts=tuple(reversed(FIXED.mounts))),  # declared order matters
    ]
    hashes = {spec_hash(s, SECRETS) for s in changed}
    assert PINNED not in hashes and len(hashes) == len(changed)


def test_the_canonical_spec_never_holds_a_secret() -> None:
    text = json.dumps(canonical_spec(FIXED, SECRETS), sort_keys=True)
    assert "hunter2" not in text
    assert "shop" in text  # non-sensitive values stay readable for diffs


PASSWORD = "481516"  # six digits: enumerable in about a second against an unkeyed digest
WHERE = replace(
    FIXED,
    command=("mysqld", f"--password={PASSWORD}"),
    healthcheck=Healthcheck(("CMD-SHELL", f"mysqladmin -p{PASSWORD} ping")),
    labels=(("dsn", f"mysql://root:{PASSWORD}@db/shop"), ("team", "core")),
    environment=(("MYSQL_DATABASE", "shop"), ("MYSQL_ROOT_PASSWORD", PASSWORD)),
)


def test_a_secret_anywhere_in_the_spec_is_replaced_by_a_keyed_token() -> None:
    secrets = Secrets(frozenset({PASSWORD}), KEY)
    spec = canonical_spec(WHERE, secrets)
    token = KEY.token(PASSWORD)
    assert spec["command"] == ["mysqld", f"--password={token}"]
    assert spec["healthcheck"]["test"] == ["CMD-SHELL", f"mysqladmin -p{token} ping"]
    assert spec["labels"] == [["dsn", f"mysql://root:{token}@db/shop"], ["team", "core"]]
    assert spec["environment"]["MYSQL_ROOT_PASSWORD"] == token
    assert spec[SECRET_KEY_FIELD] == KEY.key_id
    text = json.dumps(spec)
    assert PASSWORD not in text
    # No unkeyed digest: enumerating six-digit values against sha256 finds nothing.
    unkeyed = hashlib.sha256(PASSWORD.encode()).hexdigest()
    assert unkeyed[:16] not in text and unkeyed[-16:] not in text
    assert hmac.new(b"", PASSWORD.encode(), hashlib.sha256).hexdigest()[:32] not in text


def test_the_token_depends_on_the_key_and_the_key_id_tells_keys_apart() -> None:
    other = SecretKey(b"another-key-0123456789abcdef012345")
    assert other.token(PASSWORD) != KEY.token(PASSWORD)
    assert other.key_id != KEY.key_id
    secrets = Secrets(frozenset({PASSWORD}), KEY)
    assert spec_hash(WHERE, secrets) != spec_hash(WHERE, Secrets(frozenset({PASSWORD}), other))
    changed = replace(WHERE, command=("mysqld", "--password=481517"))
    assert spec_hash(changed, Secrets(frozenset({"481517"}), KEY)) != spec_hash(WHERE, secrets)


def test_a_spec_with_secrets_cannot_be_hashed_without_a_key() -> None:
    with pytest.raises(MissingSecretKey):
        canonical_spec(FIXED)
    assert "image" in canonical_spec(replace(FIXED, sensitive_env=frozenset()))

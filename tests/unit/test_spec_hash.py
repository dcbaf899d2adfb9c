"""spec_hash is a stored identity: pinned here so that an upgrade that changes the hash of
an unchanged spec (and so recreates every container) fails this test unless it bumps
SPEC_HASH_VERSION on purpose."""

from __future__ import annotations

import json
from dataclasses import replace

from envkit.errors import Origin
from envkit.model import (
    SPEC_HASH_VERSION,
    Condition,
    Dependency,
    Healthcheck,
    Mount,
    MountType,
    PortSpec,
    PullPolicy,
    ServiceSpec,
    canonical_spec,
    spec_hash,
)

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

PINNED = "v1-83c8bca65b7c73c1ac44ad9d83ed4455"


def test_spec_hash_is_pinned() -> None:
    assert SPEC_HASH_VERSION == 1
    assert spec_hash(FIXED) == PINNED


def test_fields_that_do_not_change_the_container_do_not_change_the_hash() -> None:
    same = replace(
        FIXED,
        name="other",
        replicas=3,
        depends_on=(Dependency("cache", Condition.HEALTHY),),
        pull_policy=PullPolicy.ALWAYS,
        origin=Origin("envkit.yaml", 3, 5),
    )
    assert spec_hash(same) == PINNED


def test_equal_specs_built_in_any_order_hash_the_same() -> None:
    # Order-insensitive fields are normalized (sorted) into tuples before they reach the
    # model; two spellings then build equal values.
    a = replace(FIXED, environment=tuple(sorted((("B", "2"), ("A", "1")))))
    b = replace(FIXED, environment=tuple(sorted((("A", "1"), ("B", "2")))))
    assert a == b and spec_hash(a) == spec_hash(b)
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
    hashes = {spec_hash(s) for s in changed}
    assert PINNED not in hashes and len(hashes) == len(changed)


def test_the_canonical_spec_never_holds_a_secret() -> None:
    text = json.dumps(canonical_spec(FIXED), sort_keys=True)
    assert "hunter2" not in text
    assert "shop" in text  # non-sensitive values stay readable for diffs

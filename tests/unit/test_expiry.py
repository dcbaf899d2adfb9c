"""envkit.reconcile.expiry: ttl parsing, timestamps, the lease, and gc's verdict (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from envkit.errors import UsageError
from envkit.model import LABEL, ResourceKind
from envkit.reconcile.expiry import (
    LEASE_LABEL,
    EnvkitObject,
    Reason,
    effective_expiry,
    expires_at,
    format_time,
    is_lease,
    lease_labels,
    lease_name,
    parse_time,
    parse_ttl,
    reapable,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ttl", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1d12h", 129600),
        ("1.5d", 129600),
        ("1h30m", 5400),
        ("500ms", 0.5),
        (" 2h ", 7200),
        ("30", 30),
        (30, 30),
        (2.5, 2.5),
    ],
)
def test_parse_ttl(ttl: str | float, seconds: float) -> None:
    assert parse_ttl(ttl) == seconds


@pytest.mark.parametrize(
    ("ttl", "message"),
    [
        ("2x", "--ttl '2x' is not a duration"),
        ("", "--ttl '' is not a duration"),
        ("d", "--ttl 'd' is not a duration"),
        ("1d2", "--ttl '1d2' is not a duration"),
        ("-5m", "--ttl '-5m' is not a duration"),
        ("h1", "--ttl 'h1' is not a duration"),
        ("0", "--ttl '0' must be longer than zero"),
        ("0s", "--ttl '0s' must be longer than zero"),
        (0, "--ttl 0 must be longer than zero"),
        (-1, "--ttl -1 is not a duration"),
    ],
)
def test_bad_ttls_are_usage_errors(ttl: str | float, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_ttl(ttl)
    assert info.value.message == message
    assert info.value.exit_code == 2
    assert info.value.hint is not None and "1d" in info.value.hint


def test_the_option_is_named_in_the_message() -> None:
    with pytest.raises(UsageError, match=r"^--older-than 'x' is not a duration$"):
        parse_ttl("x", what="--older-than")


def test_expires_at_is_rfc3339_utc_whole_seconds() -> None:
    assert expires_at("2h", NOW) == "2024-05-01T14:00:00Z"
    assert expires_at("1d", NOW) == "2024-05-02T12:00:00Z"
    assert expires_at(1.75, NOW + timedelta(microseconds=500)) == "2024-05-01T12:00:01Z"
    other_zone = datetime(2024, 5, 1, 14, 0, tzinfo=UTC).astimezone()
    assert expires_at("1m", other_zone) == "2024-05-01T14:01:00Z"
    now = datetime.now(UTC)
    got = parse_time(expires_at("15m"))
    assert got is not None and abs((got - now).total_seconds() - 900) < 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", NOW),
        ("2024-05-01T12:00:00.123456789Z", NOW + timedelta(microseconds=123456)),
        ("2024-05-01T14:00:00+02:00", NOW),
        ("2024-05-01T12:00:00", NOW),
        ("", None),
        ("tomorrow", None),
    ],
)
def test_parse_time(text: str, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_format_time_round_trips() -> None:
    assert parse_time(format_time(NOW)) == NOW


def test_the_lease_is_named_apart_from_the_projects_volumes() -> None:
    assert lease_name("web-ci-1a2b") == "web-ci-1a2b.envkit-lease"
    labels = lease_labels({LABEL.PROJECT: "web-ci-1a2b"}, "2024-05-01T14:00:00Z")
    assert labels == {
        LABEL.PROJECT: "web-ci-1a2b",
        LABEL.EXPIRES: "2024-05-01T14:00:00Z",
        LEASE_LABEL: "1",
    }
    assert is_lease(labels) and not is_lease({LABEL.PROJECT: "web-ci-1a2b"})


# -- gc's verdict ---------------------------------------------------------------------------


def obj(
    project: str | None,
    kind: ResourceKind = ResourceKind.CONTAINER,
    *,
    name: str | None = None,
    expires: str | None = None,
    created: datetime | None = NOW - timedelta(hours=1),
    lease: bool = False,
) -> EnvkitObject:
    labels: dict[str, str] = {}
    if project is not None:
        labels[LABEL.PROJECT] = project
    if expires is not None:
        labels[LABEL.EXPIRES] = expires
    if lease:
        labels[LEASE_LABEL] = "1"
    return EnvkitObject(kind, name or f"{project}-{kind.value}", labels, created)


PAST = "2024-05-01T11:00:00Z"
FUTURE = "2024-05-01T13:00:00Z"


def test_expired_instances_are_reaped_with_every_object() -> None:
    objects = [
        obj("a-ci-1", expires=PAST, name="a-ci-1-web-1"),
        obj("a-ci-1", ResourceKind.NETWORK, expires=PAST),
        obj("a-ci-1", ResourceKind.VOLUME, expires=PAST, name="a-ci-1_data"),
        obj("a-ci-2", expires=FUTURE),
    ]
    [cand] = reapable(objects, NOW)
    assert cand.project == "a-ci-1"
    assert cand.reason is Reason.EXPIRED
    assert cand.expires == parse_time(PAST)
    assert {o.name for o in cand.objects} == {"a-ci-1-web-1", "a-ci-1-network", "a-ci-1_data"}


def test_the_moment_of_expiry_counts_as_expired() -> None:
    assert reapable([obj("a-ci-1", expires=format_time(NOW))], NOW)


def test_an_instance_without_expiry_is_never_reaped_unless_asked() -> None:
    old = NOW - timedelta(days=30)
    objects = [obj("a-dev", created=old), obj("a-dev", ResourceKind.NETWORK, created=old)]
    assert reapable(objects, NOW) == []
    assert reapable(objects, NOW, older_than_s=3600) == []
    [cand] = reapable(objects, NOW, older_than_s=3600, include_unexpiring=True)
    assert cand.reason is Reason.OLDER_THAN and cand.expires is None


def test_older_than_reaps_old_instances_whose_expiry_is_still_ahead() -> None:
    objects = [obj("a-ci-1", expires=FUTURE, created=NOW - timedelta(hours=3))]
    assert reapable(objects, NOW) == []
    assert reapable(objects, NOW, older_than_s=4 * 3600) == []
    [cand] = reapable(objects, NOW, older_than_s=2 * 3600)
    assert cand.reason is Reason.OLDER_THAN


def test_older_than_looks_at_the_newest_container_not_the_renewed_lease() -> None:
    objects = [
        obj("a-ci-1", expires=FUTURE, created=NOW - timedelta(hours=3)),
        obj("a-ci-1", expires=FUTURE, name="x-2", created=NOW - timedelta(hours=2)),
        obj("a-ci-1", ResourceKind.VOLUME, expires=FUTURE, lease=True, created=NOW),
    ]
    assert reapable(objects, NOW, older_than_s=3 * 3600) == []
    [cand] = reapable(objects, NOW, older_than_s=3600)
    assert cand.created == NOW - timedelta(hours=2)


def test_the_lease_decides_the_expiry_both_ways() -> None:
    extended = [
        obj("a-ci-1", expires=PAST),
        obj("a-ci-1", ResourceKind.VOLUME, expires=FUTURE, lease=True),
    ]
    assert effective_expiry(extended) == parse_time(FUTURE)
    assert reapable(extended, NOW) == []
    shortened = [
        obj("a-ci-1", expires=FUTURE),
        obj("a-ci-1", ResourceKind.VOLUME, expires=PAST, lease=True),
    ]
    assert [c.project for c in reapable(shortened, NOW)] == ["a-ci-1"]


def test_without_a_lease_the_latest_stamp_counts() -> None:
    objects = [obj("a-ci-1", expires=PAST), obj("a-ci-1", ResourceKind.NETWORK, expires=FUTURE)]
    assert effective_expiry(objects) == parse_time(FUTURE)
    assert effective_expiry([obj("a-ci-1", expires="garbage")]) is None


def test_objects_without_a_project_label_are_ignored_whatever_they_say() -> None:
    foreign = [
        obj(None, expires=PAST, created=NOW - timedelta(days=9)),
        obj("", ResourceKind.VOLUME, expires=PAST),
    ]
    assert reapable(foreign, NOW, older_than_s=1, include_unexpiring=True) == []


def test_candidates_are_sorted_and_nothing_to_do_is_empty() -> None:
    objects = [obj(p, expires=PAST) for p in ("c-ci-1", "a-ci-1", "b-ci-1")]
    assert [c.project for c in reapable(objects, NOW)] == ["a-ci-1", "b-ci-1", "c-ci-1"]
    assert reapable([], NOW) == []

"""Field-level differences as records: values as written, secrets masked, shown quoted."""

from __future__ import annotations

from dataclasses import replace

import pytest
from plan_fixtures import DB, KEY, seen, world

from envkit.model import DesiredState, Healthcheck
from envkit.reconcile.plan import plan
from envkit.reconcile.present import plan_json, plan_text
from envkit.reconcile.spec_diff import FieldDiff, show_value, spec_differences


def diffs(before: dict[str, object], after: dict[str, object], **kw: object) -> list[FieldDiff]:
    return list(spec_differences(before, after, **kw))  # type: ignore[arg-type]


def test_records_carry_path_before_after_and_flags() -> None:
    assert diffs({"image": "a:1", "restart": "no"}, {"image": "b:1", "restart": "no"}) == [
        FieldDiff("image", "a:1", "b:1", sensitive=False, forces_recreate=True)
    ]


@pytest.mark.parametrize(
    ("before", "after", "shown"),
    [
        (67108864, 134217728, ("64m", "128m")),
        (1024**3, 1536 * 1024**2, ("1g", "1536m")),
        (1000, None, ("1000b", None)),
        (3 * 1024**4, 5 * 1024, ("3t", "5k")),
    ],
)
def test_sizes_are_shown_in_the_largest_exact_unit(
    before: int, after: int | None, shown: tuple[str, str | None]
) -> None:
    (d,) = diffs({"mem_limit": before}, {"mem_limit": after})
    assert (d.path, d.before, d.after) == ("mem_limit", *shown)


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(90.0, "1m30s"), (0.5, "500ms"), (3600.0, "1h"), (2.0, "2s"), (0.0, "0s"), (1e-4, "0.0001s")],
)
def test_durations_are_shown_as_written_and_paths_lose_the_unit_suffix(
    seconds: float, shown: str
) -> None:
    (d,) = diffs({"stop_grace_period_s": None}, {"stop_grace_period_s": seconds})
    assert (d.path, d.before, d.after) == ("stop_grace_period", None, shown)
    (h,) = diffs({"healthcheck": {"interval_s": 1.0}}, {"healthcheck": {"interval_s": seconds}})
    assert (h.path, h.after) == ("healthcheck.interval", shown)


def test_a_new_nested_object_is_diffed_field_by_field() -> None:
    assert diffs({}, {"healthcheck": {"test": ["CMD", "true"], "retries": 3}}) == [
        FieldDiff("healthcheck.test", None, ("CMD", "true")),
        FieldDiff("healthcheck.retries", None, 3),
    ]


def test_secrets_are_masked_wherever_they_appear() -> None:
    got = diffs(
        {"environment": {"PW": "old"}, "command": ["run", "--pw=old"]},
        {"environment": {"PW": "new"}, "command": ["run", "--pw=new"]},
        sensitive_env={"PW"},
        secrets={"new"},
    )
    assert got == [
        FieldDiff("environment.PW", "(sensitive)", "(sensitive)", sensitive=True),
        FieldDiff("command", ("run", "--pw=old"), ("run", "--pw=(sensitive)"), sensitive=True),
    ]


def test_show_value_quotes_strings_and_leaves_markers_bare() -> None:
    assert [show_value(v) for v in ("a", 3, None, "(sensitive)", ("x", "y"), True)] == [
        '"a"',
        "3",
        "(unset)",
        "(sensitive)",
        '["x", "y"]',
        "true",
    ]


def _stack(*services: object) -> DesiredState:
    return DesiredState(
        "shop",
        "dev",
        None,
        services,
        sensitive_values=frozenset({"hunter2"}),
        secret_key=KEY,  # type: ignore[arg-type]
    )


def test_text_shows_quoted_values_and_marks_fields_that_force_a_recreate() -> None:
    new = replace(DB, environment=(("MYSQL_DATABASE", "c"), *DB.environment[1:]))
    new = replace(new, mem_limit=64 * 1024**2, healthcheck=Healthcheck(("CMD", "true"), 2.0))
    text = plan_text(plan(_stack(new), world(seen(DB))))
    assert '      ~ environment.MYSQL_DATABASE: "shop" -> "c"  # forces recreate' in text
    assert '      ~ mem_limit: (unset) -> "64m"  # forces recreate' in text
    assert '      ~ healthcheck.interval: (unset) -> "2s"  # forces recreate' in text
    assert "(+ create, -/+ recreate, > start, - remove)" in text


def test_verbose_text_lists_a_creates_main_attributes_with_secrets_masked() -> None:
    p = plan(_stack(DB), world())
    assert "      image:" not in plan_text(p)
    assert plan_text(p, verbose=True).splitlines()[3:9] == [
        "  + container shop-dev-db-1 (db)",
        '      image: "mysql:5.7"',
        '      ports: ["127.0.0.1:3307->3306/tcp"]',
        '      volumes: ["volume data:/var/lib/mysql"]',
        '      environment: MYSQL_DATABASE="shop", MYSQL_ROOT_PASSWORD=(sensitive)',
        "",
    ]
    assert "hunter2" not in plan_text(p, verbose=True)


def test_json_carries_the_same_records() -> None:
    new = replace(DB, image="mariadb:10")
    change = plan_json(plan(_stack(new), world(seen(DB))))["changes"][0]
    assert change["diffs"] == [
        {
            "path": "image",
            "before": "mysql:5.7",
            "after": "mariadb:10",
            "sensitive": False,
            "forces_recreate": True,
        }
    ]

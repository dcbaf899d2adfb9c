"""How plans are shown: exact text and JSON, and no secret in either."""

from __future__ import annotations

import json
from dataclasses import replace

from plan_fixtures import DB, IMG, KEY, WEB, seen, world

from envkit.engine.base import ObservedState, PortHolder, PortUse
from envkit.model import DesiredState, PortSpec, ServiceSpec, VolumeSpec
from envkit.reconcile.plan import plan
from envkit.reconcile.present import plan_json, plan_text

SECRET = "hunter2"
OLD = ServiceSpec("old", "web:1")
DB_NEW = replace(
    DB,
    environment=(("MYSQL_DATABASE", "shop"), ("MYSQL_ROOT_PASSWORD", "changed-" + SECRET)),
    command=("mysqld", f"--password={SECRET}"),
)


def stack(*services: ServiceSpec, volumes: tuple[VolumeSpec, ...] = ()) -> DesiredState:
    return DesiredState(
        "shop", "dev", None, services, volumes, sensitive_values=frozenset({SECRET}), secret_key=KEY
    )


def mixed() -> tuple[DesiredState, ObservedState]:
    d = stack(DB_NEW, WEB, ServiceSpec("cache", "redis:7"), volumes=(VolumeSpec("data"),))
    o = world(
        seen(DB),
        seen(WEB, 1, state="exited"),
        seen(WEB, 2),
        seen(OLD),
        network=False,
        images={**IMG, "redis:7": None},
    )
    return d, o


EXPECTED_TEXT = """\
envkit will perform the following actions on shop-dev:
(+ create, -/+ recreate, > start, - remove)

  - container shop-dev-old-1 (old)  # service removed from the stack
  + network shop-dev
  + volume shop-dev_data
  -/+ container shop-dev-db-1 (db)
      ~ command: (unset) -> ["mysqld", "--password=(sensitive)"]  # forces recreate
      ~ environment.MYSQL_ROOT_PASSWORD: (sensitive) -> (sensitive)  # forces recreate
  > container shop-dev-web-1 (web)  # exited, will be started
  + container shop-dev-cache-1 (cache)  # image redis:7 will be pulled

Plan: 3 to create, 1 to recreate, 1 to start, 1 to remove, 1 unchanged."""


def test_plan_text() -> None:
    assert plan_text(plan(*mixed())) == EXPECTED_TEXT


def test_plan_text_in_color_marks_the_symbols() -> None:
    text = plan_text(plan(*mixed()), color=True)
    assert "  \x1b[32m+\x1b[0m network shop-dev" in text
    assert "  \x1b[33m-/+\x1b[0m container shop-dev-db-1 (db)" in text
    assert "\x1b[1mPlan: 3 to create" in text


def test_no_changes() -> None:
    p = plan(stack(DB), world(seen(DB)))
    assert plan_text(p) == "No changes. shop-dev matches the stack."
    assert plan_json(p)["summary"] == {
        "create": 0,
        "recreate": 0,
        "start": 0,
        "remove": 0,
        "unchanged": 1,
    }


def test_conflicts_are_listed_before_the_summary() -> None:
    use = PortUse("", 3307, "tcp", PortHolder.HOST_PROCESS)
    p = plan(stack(DB), world(ports_in_use=(use,)))
    assert plan_text(p) == (
        "envkit will perform the following actions on shop-dev:\n"
        "(+ create, -/+ recreate, > start, - remove)\n"
        "\n"
        "  + container shop-dev-db-1 (db)\n"
        "\n"
        "error[port-in-use]: host port 127.0.0.1:3307/tcp for db (shop-dev-db-1, container "
        "port 3306/tcp) is held by a process on the host\n"
        "  hint: stop or remove what holds it, publish another host port for this "
        "environment, or leave the host port out so the engine picks a free one\n"
        "\n"
        "Plan: 1 to create, 0 to recreate, 0 to start, 0 to remove, 0 unchanged."
    )
    assert "error[" not in plan_text(p, conflicts=False)


def test_conflicts_without_changes() -> None:
    p = plan(stack(volumes=(VolumeSpec("x", external=True),)), world())
    assert plan_text(p) == (
        "error[volume-missing]: external volume x (volumes.x) does not exist\n"
        "  hint: create it (docker volume create x) or drop 'external: true'\n"
        "\n"
        "Plan: 0 to create, 0 to recreate, 0 to start, 0 to remove, 0 unchanged."
    )


def test_plan_json() -> None:
    data = plan_json(plan(*mixed()))
    assert data == {
        "format_version": 2,
        "project": "shop-dev",
        "stack": "shop",
        "environment": "dev",
        "instance": None,
        "has_changes": True,
        "changes": [
            {
                "kind": "container",
                "name": "shop-dev-old-1",
                "action": "remove",
                "service": "old",
                "replica": 1,
                "diffs": [],
                "reasons": ["service removed from the stack"],
            },
            {
                "kind": "network",
                "name": "shop-dev",
                "action": "create",
                "service": None,
                "replica": None,
                "diffs": [],
                "reasons": [],
            },
            {
                "kind": "volume",
                "name": "shop-dev_data",
                "action": "create",
                "service": None,
                "replica": None,
                "diffs": [],
                "reasons": [],
            },
            {
                "kind": "container",
                "name": "shop-dev-db-1",
                "action": "recreate",
                "service": "db",
                "replica": 1,
                "diffs": [
                    {
                        "path": "command",
                        "before": None,
                        "after": ["mysqld", "--password=(sensitive)"],
                        "sensitive": True,
                        "forces_recreate": True,
                    },
                    {
                        "path": "environment.MYSQL_ROOT_PASSWORD",
                        "before": "(sensitive)",
                        "after": "(sensitive)",
                        "sensitive": True,
                        "forces_recreate": True,
                    },
                ],
                "reasons": [],
                "carried_volumes": [],
            },
            {
                "kind": "container",
                "name": "shop-dev-web-1",
                "action": "start",
                "service": "web",
                "replica": 1,
                "diffs": [],
                "reasons": ["exited, will be started"],
            },
            {
                "kind": "container",
                "name": "shop-dev-web-2",
                "action": "noop",
                "service": "web",
                "replica": 2,
                "diffs": [],
                "reasons": [],
            },
            {
                "kind": "container",
                "name": "shop-dev-cache-1",
                "action": "create",
                "service": "cache",
                "replica": 1,
                "diffs": [],
                "reasons": ["image redis:7 will be pulled"],
            },
        ],
        "conflicts": [],
        "warnings": [],
        "summary": {"create": 3, "recreate": 1, "start": 1, "remove": 1, "unchanged": 1},
    }
    json.dumps(data)  # JSON-able as it is


def test_no_secret_is_ever_shown() -> None:
    # The secret sits in a sensitive env value, in a command, in a port owner's name and in
    # the image reference, where only redaction can catch it.
    db = replace(DB_NEW, image=f"registry/{SECRET}:1", ports=(PortSpec(3306, published=3307),))
    use = PortUse("", 3307, "tcp", PortHolder.CONTAINER, SECRET, "other")
    d = stack(db, volumes=(VolumeSpec(SECRET, external=True),))
    o = world(seen(DB), ports_in_use=(use,), images={db.image: None})
    p = plan(d, o)
    assert p.conflicts and p.has_changes
    text = plan_text(p) + plan_text(p, color=True)
    dumped = json.dumps(plan_json(p))
    for out in (text, dumped):
        assert SECRET not in out
        assert "(sensitive)" in out

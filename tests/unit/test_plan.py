"""The planner, table-driven: (desired, observed) -> expected (action, name, reasons)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from plan_fixtures import DB, IMG, WEB, desired, rows, seen, world

from envkit.engine.base import (
    PortHolder,
    PortUse,
)
from envkit.model import (
    Dependency,
    Mount,
    MountType,
    PortSpec,
    PullPolicy,
    ServiceSpec,
    VolumeSpec,
)
from envkit.reconcile.changes import Action, Plan
from envkit.reconcile.plan import ResourceKind, dependency_order, plan

DB2 = replace(
    DB,
    image="mariadb:10",
    environment=(("MYSQL_DATABASE", "shop"), ("MYSQL_ROOT_PASSWORD", "s3cret")),
    ports=(PortSpec(3306, host_ip="127.0.0.1", published=3308),),
)

CASES = {
    "empty engine: everything is created, dependencies first": (
        desired(WEB, DB, volumes=(VolumeSpec("data"),)),
        world(network=False),
        [
            ("CREATE", "shop-dev", ()),
            ("CREATE", "shop-dev_data", ()),
            ("CREATE", "shop-dev-db-1", ()),
            ("CREATE", "shop-dev-web-1", ()),
            ("CREATE", "shop-dev-web-2", ()),
        ],
    ),
    "everything running and unchanged": (
        desired(DB, WEB, volumes=(VolumeSpec("data"),)),
        world(seen(DB), seen(WEB, 1), seen(WEB, 2), volumes=("shop-dev_data",)),
        [
            ("NOOP", "shop-dev-db-1", ()),
            ("NOOP", "shop-dev-web-1", ()),
            ("NOOP", "shop-dev-web-2", ()),
        ],
    ),
    "stopped containers are started": (
        desired(DB, WEB),
        world(seen(DB, state="exited"), seen(WEB, 1, state="created"), seen(WEB, 2)),
        [
            ("START", "shop-dev-db-1", ("exited, will be started",)),
            ("START", "shop-dev-web-1", ("created, will be started",)),
            ("NOOP", "shop-dev-web-2", ()),
        ],
    ),
    "a paused container is resumed, not left as 'no changes'": (
        desired(DB),
        world(seen(DB, state="paused")),
        [("START", "shop-dev-db-1", ("paused, will be unpaused",))],
    ),
    "a one-shot job that completed is left alone; a failed one is started again": (
        desired(
            ServiceSpec(name="migrate", image="web:1"),
            ServiceSpec(name="seed", image="web:1"),
            ServiceSpec(name="poller", image="web:1", restart="always"),
        ),
        world(
            seen(ServiceSpec(name="migrate", image="web:1"), state="exited", exit_code=0),
            seen(ServiceSpec(name="seed", image="web:1"), state="exited", exit_code=3),
            seen(
                ServiceSpec(name="poller", image="web:1", restart="always"),
                state="exited",
                exit_code=0,
            ),
        ),
        [
            ("NOOP", "shop-dev-migrate-1", ("completed",)),
            ("START", "shop-dev-seed-1", ("exited with code 3, will be started",)),
            ("START", "shop-dev-poller-1", ("exited with code 0, will be started",)),
        ],
    ),
    "changed fields are named, secrets are not shown": (
        desired(DB2),
        world(seen(DB), images={**IMG, "mariadb:10": "sha256:" + "c" * 64}),
        [
            (
                "RECREATE",
                "shop-dev-db-1",
                (
                    'image: "mysql:5.7" -> "mariadb:10"',
                    "environment.MYSQL_ROOT_PASSWORD: (sensitive) -> (sensitive)",
                    'ports[0]: "127.0.0.1:3307->3306/tcp" -> "127.0.0.1:3308->3306/tcp"',
                    "image mariadb:10 changed: sha256:aaaaaaaaaaaa -> sha256:cccccccccccc",
                ),
            )
        ],
    ),
    "image id behind the tag changed": (
        desired(DB),
        world(seen(DB, image_id="sha256:" + "d" * 64)),
        [
            (
                "RECREATE",
                "shop-dev-db-1",
                ("image mysql:5.7 changed: sha256:dddddddddddd -> sha256:aaaaaaaaaaaa",),
            )
        ],
    ),
    "no recorded spec": (
        desired(replace(DB, restart="always")),
        world(seen(DB, recorded={})),
        [("RECREATE", "shop-dev-db-1", ("spec hash changed (no recorded spec to compare)",))],
    ),
    "added, removed and nested fields": (
        desired(
            replace(
                DB,
                environment=(("MYSQL_ROOT_PASSWORD", "hunter2"), ("TZ", "UTC")),
                command=("mysqld", "--skip-name-resolve"),
                labels=(("team", "core"),),
                mounts=(Mount(MountType.VOLUME, "/var/lib/mysql", "data", read_only=True),),
                ports=(),
            )
        ),
        world(seen(DB)),
        [
            (
                "RECREATE",
                "shop-dev-db-1",
                (
                    'command: (unset) -> ["mysqld", "--skip-name-resolve"]',
                    'environment.TZ: (unset) -> "UTC"',
                    'environment.MYSQL_DATABASE: "shop" -> (unset)',
                    'mounts[0]: "volume data:/var/lib/mysql" -> "volume data:/var/lib/mysql:ro"',
                    'labels.team: (unset) -> "core"',
                    'ports[0]: "127.0.0.1:3307->3306/tcp" -> (unset)',
                ),
            )
        ],
    ),
    "dead container is recreated": (
        desired(DB),
        world(seen(DB, state="dead")),
        [("RECREATE", "shop-dev-db-1", ("container is dead",))],
    ),
    "removed service, lowered replicas and a duplicate are removed first": (
        desired(DB, replace(WEB, replicas=1)),
        world(
            seen(DB),
            seen(DB, name="shop-dev-db-1-old"),
            seen(WEB, 1),
            seen(WEB, 2),
            seen(replace(DB, name="cache")),
        ),
        [
            ("REMOVE", "shop-dev-cache-1", ("service removed from the stack",)),
            ("REMOVE", "shop-dev-db-1-old", ("extra container for db replica 1",)),
            ("REMOVE", "shop-dev-web-2", ("replicas lowered to 1",)),
            ("NOOP", "shop-dev-db-1", ()),
            ("NOOP", "shop-dev-web-1", ()),
        ],
    ),
    "other projects' containers are never planned": (
        desired(DB),
        world(seen(DB, project="shop-test"), seen(WEB, project="shop-test")),
        [("CREATE", "shop-dev-db-1", ())],
    ),
    "a missing image will be pulled or built": (
        desired(DB, replace(WEB, replicas=1, pull_policy=PullPolicy.BUILD)),
        world(seen(DB), images={"mysql:5.7": None, "web:1": None}),
        [
            ("NOOP", "shop-dev-db-1", ()),
            ("CREATE", "shop-dev-web-1", ("image web:1 will be built",)),
        ],
    ),
    "recreate of a pulled image": (
        desired(replace(DB, restart="always")),
        world(seen(DB), images={"mysql:5.7": None}),
        [
            (
                "RECREATE",
                "shop-dev-db-1",
                ('restart: "no" -> "always"', "image mysql:5.7 will be pulled"),
            )
        ],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_plan(case: str) -> None:
    want_desired, observed, expected = CASES[case]
    got = plan(want_desired, observed)
    assert rows(got) == expected
    assert got.conflicts == ()


def test_changes_carry_before_and_after() -> None:
    before = seen(DB, state="exited")
    p = plan(desired(DB), world(before))
    (change,) = p.changes
    assert change.kind is ResourceKind.CONTAINER
    assert (change.service, change.replica, change.before, change.after) == ("db", 1, before, DB)


def test_summary_and_has_changes() -> None:
    p = plan(desired(DB, WEB), world(seen(DB), seen(WEB, 1, state="exited")))
    assert p.has_changes
    s = p.summary
    assert (s.create, s.recreate, s.start, s.remove, s.unchanged) == (1, 0, 1, 0, 1)
    assert not plan(desired(DB), world(seen(DB))).has_changes


def test_volumes_are_never_removed_and_external_ones_must_exist() -> None:
    vols = (VolumeSpec("data"), VolumeSpec("shared", external=True))
    p = plan(desired(volumes=vols), world(volumes=("shop-dev_data", "shop-dev_old")))
    assert rows(p) == []
    (conflict,) = p.conflicts
    assert conflict.code == "volume-missing"
    assert conflict.message == "external volume shared (volumes.shared) does not exist"
    ok = plan(desired(volumes=vols), world(volumes=("shop-dev_data", "shared")))
    assert ok.conflicts == ()


def codes(p: Plan) -> list[tuple[str, str]]:
    return [(c.code, c.message) for c in p.conflicts]


def test_name_taken() -> None:
    p = plan(
        desired(DB, volumes=(VolumeSpec("data"),)),
        world(network=False, foreign_names={"shop-dev-db-1": "container", "shop-dev": "network"}),
    )
    assert codes(p) == [
        (
            "name-taken",
            "the network name shop-dev is taken by a network that envkit does not manage",
        ),
        (
            "name-taken",
            "the container name shop-dev-db-1 is taken by a container that envkit does not manage",
        ),
    ]
    assert p.conflicts[1].hint == (
        "remove or rename that container (docker container rm shop-dev-db-1), "
        "or use another instance (--instance ID)"
    )
    assert p.conflicts[1].service == "db"


def test_port_in_use() -> None:
    use = PortUse("0.0.0.0", 3307, "tcp", PortHolder.CONTAINER, "mysql-old", "legacy")
    p = plan(desired(DB), world(ports_in_use=(use,)))
    assert codes(p) == [
        (
            "port-in-use",
            "host port 0.0.0.0:3307/tcp for db (shop-dev-db-1, container port 3306/tcp) "
            "is held by container mysql-old (project legacy)",
        )
    ]
    # Other protocol or another specific address: no conflict.
    other = (PortUse("0.0.0.0", 3307, "udp"), PortUse("10.0.0.1", 3307, "tcp"))
    assert plan(desired(DB), world(ports_in_use=other)).conflicts == ()


def test_port_held_by_the_container_being_recreated_is_no_conflict() -> None:
    use = PortUse("127.0.0.1", 3307, "tcp", PortHolder.CONTAINER, "shop-dev-db-1", "shop-dev")
    p = plan(desired(replace(DB, restart="always")), world(seen(DB), ports_in_use=(use,)))
    assert [c.action for c in p.changes] == [Action.RECREATE]
    assert p.conflicts == ()


def test_fixed_host_port_with_two_replicas_conflicts_with_itself() -> None:
    web = replace(WEB, depends_on=(), ports=(PortSpec(80, published=8080),))
    p = plan(desired(web), world())
    assert codes(p) == [
        (
            "port-in-use",
            "host port 8080/tcp for web (shop-dev-web-2, container port 80/tcp) "
            "is held by container shop-dev-web-1 of this stack",
        )
    ]


def test_image_missing_only_when_a_container_needs_it() -> None:
    never = replace(DB, pull_policy=PullPolicy.NEVER)
    p = plan(desired(never), world(images={"mysql:5.7": None}))
    assert [c.code for c in p.conflicts] == ["image-missing"]
    assert p.conflicts[0].message == (
        "image mysql:5.7 of service db is not present on the engine and pull_policy is never"
    )
    # A running container of an unchanged spec keeps running without the tag.
    assert plan(desired(never), world(seen(never), images={"mysql:5.7": None})).conflicts == ()


def test_dependency_order_uses_declared_order_as_tie_break() -> None:
    a = ServiceSpec("a", "i", depends_on=(Dependency("c"),))
    b = ServiceSpec("b", "i")
    c = ServiceSpec("c", "i", depends_on=(Dependency("b"), Dependency("gone")))
    d = ServiceSpec("d", "i")
    assert [s.name for s in dependency_order([a, b, c, d])] == ["b", "c", "a", "d"]
    # A cycle (rejected by validation) still yields every service once.
    x = ServiceSpec("x", "i", depends_on=(Dependency("y"),))
    y = ServiceSpec("y", "i", depends_on=(Dependency("x"),))
    assert [s.name for s in dependency_order([x, y, b])] == ["b", "x", "y"]


def test_a_host_range_conflicts_only_when_all_of_it_is_held() -> None:
    # "8000-8002:80": the engine binds the first free port of the range
    web = replace(WEB, depends_on=(), replicas=1, ports=(PortSpec(80, published=8000,
                                                                   published_last=8002),))  # fmt: skip
    held = tuple(PortUse("", port, "tcp", PortHolder.HOST_PROCESS) for port in (8000, 8001))
    assert plan(desired(web), world(ports_in_use=held)).conflicts == ()
    every = (*held, PortUse("", 8002, "tcp", PortHolder.CONTAINER, "other-1", "other"))
    assert codes(plan(desired(web), world(ports_in_use=every))) == [
        (
            "port-in-use",
            "host port 8000-8002/tcp for web (shop-dev-web-1, container port 80/tcp) "
            "is held by a process on the host; container other-1 (project other)",
        )
    ]
    # Two replicas share a range: each gets one of its ports, no conflict with itself.
    assert plan(desired(replace(web, replicas=2)), world()).conflicts == ()


def test_a_host_range_held_by_fixed_ports_of_this_stack_conflicts() -> None:
    fixed = replace(WEB, name="a", depends_on=(), replicas=1, ports=(
        PortSpec(80, published=8000), PortSpec(81, published=8001)))  # fmt: skip
    ranged = replace(WEB, name="b", depends_on=(), replicas=1, ports=(
        PortSpec(80, published=8000, published_last=8001),))  # fmt: skip
    p = plan(desired(ranged, fixed), world())
    assert [c.message for c in p.conflicts] == [
        "host port 8000-8001/tcp for b (shop-dev-b-1, container port 80/tcp) "
        "is held by container shop-dev-a-1 of this stack"
    ]

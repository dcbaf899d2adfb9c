"""Drift made outside envkit: network attachments and the command, from the container list."""

from __future__ import annotations

from dataclasses import replace

import pytest
from plan_fixtures import DB, P, desired, rows, seen, world

from envkit.engine.base import ObservedNetwork
from envkit.engine.docker_json import parse_container
from envkit.model import NetworkSpec, ServiceNetwork, ServiceSpec
from envkit.reconcile.drift import command_drift, list_command
from envkit.reconcile.plan import plan

ATTACHED = {P: "n1"}


def test_list_reads_attachments_and_command() -> None:
    raw = {
        "Id": "c1",
        "Names": ["/shop-dev-db-1"],
        "Command": "sh -c 'sleep 3600'",
        "NetworkSettings": {"Networks": {"shop-dev": {"NetworkID": "n1"}, "x": {}}},
    }
    c = parse_container(raw)
    assert c.networks == {"shop-dev": "n1", "x": ""}
    assert c.command == "sh -c 'sleep 3600'"
    bare = parse_container({"Id": "c1", "Names": ["/a"]})
    assert bare.networks is None and bare.command is None
    assert parse_container({**raw, "NetworkSettings": {"Networks": None}}).networks == {}


@pytest.mark.parametrize(
    ("networks", "shown"),
    [
        ({}, f'networks: ["{P} (disconnected)"] -> ["{P}"]'),
        ({"other": "n9"}, f'networks: ["{P} (disconnected)"] -> ["{P}"]'),
        (
            {P: "n0"},
            f'networks: ["{P} (network re-created; attached to the old one)"] -> ["{P}"]',
        ),
    ],
)
def test_missing_or_stale_attachment_recreates(networks: dict[str, str], shown: str) -> None:
    p = plan(desired(DB), world(replace(seen(DB), networks=networks)))
    assert rows(p) == [("RECREATE", "shop-dev-db-1", (shown,))]


def test_attachment_to_a_removed_network_recreates_after_the_network() -> None:
    p = plan(desired(DB), world(replace(seen(DB), networks=ATTACHED), network=False))
    assert rows(p) == [
        ("CREATE", P, ()),
        ("RECREATE", "shop-dev-db-1", (f'networks: ["{P} (network removed)"] -> ["{P}"]',)),
    ]


@pytest.mark.parametrize("networks", [ATTACHED, {P: ""}, None])
def test_right_attachment_or_none_reported_is_no_change(networks: dict[str, str] | None) -> None:
    # "" is a created container that never started; None: the engine did not say.
    p = plan(desired(DB), world(replace(seen(DB), networks=networks)))
    assert not p.has_changes


def test_completed_one_shot_is_left_alone_without_its_network() -> None:
    job = ServiceSpec(name="migrate", image="web:1", command=("true",))
    done = replace(seen(job, state="exited", exit_code=0), networks={P: "n0"})
    assert rows(plan(desired(job), world(done))) == [("NOOP", "shop-dev-migrate-1", ("completed",))]


def test_network_drift_joins_the_other_differences() -> None:
    changed = replace(DB, image="mysql:8")
    before = replace(seen(DB), networks={})
    [change] = plan(desired(changed), world(before)).changes
    assert [d.path for d in change.diffs] == ["image", "networks"]


SH = ServiceSpec(name="db", image="mysql:5.7", command=("sh", "-c", "sleep 3600"))


@pytest.mark.parametrize(
    ("spec", "seen_command", "drifted"),
    [
        (SH, "sh -c 'sleep 3600'", False),
        (SH, "docker-entrypoint.sh sh -c 'sleep 3600'", False),  # the image's entrypoint
        (SH, "sleep 999", True),
        (SH, "sh -c 'sleep 999'", True),
        (replace(SH, entrypoint=("/bin/sh",), command=("-c", "x y")), "/bin/sh -c 'x y'", False),
        (replace(SH, entrypoint=("/bin/sh",), command=("-c", "x y")), "sh -c 'x y'", True),
        (replace(SH, command=None), "anything the image says", False),
    ],
)
def test_command_drift(spec: ServiceSpec, seen_command: str, drifted: bool) -> None:
    assert command_drift(spec, replace(seen(spec), command=seen_command)) is drifted


def test_hand_made_container_with_copied_labels_is_recreated_without_showing_it() -> None:
    secret = replace(SH, command=("sh", "-c", "run --password hunter2"))
    by_hand = replace(seen(secret), command="sh -c 'echo hunter2 is not it'")
    [change] = plan(desired(secret), world(by_hand)).changes
    assert change.action.name == "RECREATE"
    assert change.reasons == (
        "the container's command differs from the stack's (changed outside envkit)",
    )
    assert "hunter2" not in repr(change.reasons) + repr(change.diffs)


def test_list_command_quotes_spaced_arguments_only() -> None:
    assert list_command(("sh", "-c", "sleep 3600")) == "sh -c 'sleep 3600'"
    assert list_command(("/a b", "c")) == "/a b c"
    assert list_command(()) == ""


def test_every_joined_network_is_checked_external_ones_by_attachment_only() -> None:
    spec = replace(DB, networks=(ServiceNetwork("back"), ServiceNetwork("shared")))
    state = replace(
        desired(spec), networks=(NetworkSpec("back"), NetworkSpec("shared", external=True))
    )
    observed = world(network=False)
    observed = replace(observed, networks=(ObservedNetwork("nb", f"{P}_back"),))
    ok = replace(seen(spec), networks={f"{P}_back": "nb", "shared": "any-id"})
    assert not [
        c
        for c in plan(state, replace(observed, containers=(ok,))).changes
        if c.kind.name == "CONTAINER" and c.action.name != "NOOP"
    ]
    lost = replace(seen(spec), networks={f"{P}_back": "nb"})
    [change] = [
        c
        for c in plan(state, replace(observed, containers=(lost,))).changes
        if c.kind.name == "CONTAINER"
    ]
    assert change.diffs[-1].before == (f"{P}_back", "shared (disconnected)")


def test_network_mode_joins_no_network_so_nothing_is_compared() -> None:
    spec = replace(DB, network_mode="host")
    p = plan(desired(spec), world(replace(seen(spec), networks={})))
    assert not p.has_changes

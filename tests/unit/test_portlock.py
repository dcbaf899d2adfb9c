"""Host-port reservations: one holder per (engine, port, protocol), whatever the address."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envkit.errors import LockTimeout
from envkit.model import DesiredState, PortSpec, ServiceSpec
from envkit.reconcile.portlock import MAX_RANGE_LOCKS, fixed_ports, port_locks


def test_fixed_ports_are_the_published_ones_sorted() -> None:
    web = ServiceSpec(
        "web",
        "web:1",
        ports=(
            PortSpec(80, host_ip="127.0.0.1", published=8080),
            PortSpec(53, protocol="udp", published=5353),
            PortSpec(443),  # the engine picks: nothing to reserve
            PortSpec(81, host_ip="0.0.0.0", published=8080),
        ),
    )
    assert fixed_ports(DesiredState("s", "e", None, (web,))) == [(5353, "udp"), (8080, "tcp")]


def test_a_held_port_makes_another_run_wait_and_names_the_holder(tmp_path: Path) -> None:
    env = {"ENVKIT_STATE_DIR": str(tmp_path / "state")}
    said: list[str] = []
    with port_locks([(8080, "tcp")], project="s-e-a", engine_id="E", environment=env):
        with (
            pytest.raises(LockTimeout) as caught,
            port_locks(
                [(8080, "tcp")],
                project="s-e-b",
                engine_id="E",
                timeout_s=0.3,
                on_wait=said.append,
                environment=env,
            ),
        ):
            pass
        # another engine, or another port: no wait
        with port_locks([(8080, "tcp")], project="s-e-b", engine_id="F", environment=env):
            pass
        with port_locks([(8081, "tcp")], project="s-e-b", engine_id="E", environment=env):
            pass
    holder = f"pid {os.getpid()}, project s-e-a"
    assert said == [f"waiting for another envkit ({holder}) that is publishing host port 8080/tcp"]
    assert f"({holder}) still holds host port 8080/tcp" in caught.value.message
    # released at the end of the block
    with port_locks([(8080, "tcp")], project="s-e-b", engine_id="E", environment=env, timeout_s=0):
        pass


def test_a_host_range_reserves_each_of_its_ports_up_to_a_bound() -> None:
    web = ServiceSpec(
        "web",
        "web:1",
        ports=(
            PortSpec(80, published=8000, published_last=8002),
            PortSpec(81, published=10000, published_last=10000 + MAX_RANGE_LOCKS),  # too wide
        ),
    )
    assert fixed_ports(DesiredState("s", "e", None, (web,))) == [
        (8000, "tcp"), (8001, "tcp"), (8002, "tcp")
    ]  # fmt: skip

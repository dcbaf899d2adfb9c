"""A host port range for one container port (``"P-Q:80"``, Compose's syntax): the engine
binds the first free port of it, and ``ps``, ``port`` and ``env`` show the port it bound."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from .conftest import StackFile, busybox, free_port

pytestmark = pytest.mark.engine


def _range_start() -> int:
    """A port P with P, P+1 and P+2 free on 127.0.0.1 right now."""
    for _ in range(50):
        first = min(free_port(), 65533)
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", first + 1))
                b.bind(("127.0.0.1", first + 2))
            except OSError:
                continue
        return first
    raise AssertionError("no three free ports in a row")


def test_the_engine_binds_the_first_free_port_of_the_range(stack: StackFile) -> None:
    first = _range_start()
    stack.write(
        "environments: {e: {}}\n"
        "services:\n"
        + busybox("holder", extra=f"ports: ['127.0.0.1:{first}:80']")
        + busybox("web", extra=f"ports: ['127.0.0.1:{first}-{first + 2}:80']\ndepends_on: [holder]")
    )
    plan = stack.cli("plan", "e", "-v")
    assert plan.code == 0, plan.err
    assert f"127.0.0.1:{first}-{first + 2}->80/tcp" in plan.out

    up = stack.cli("up", "e")
    assert up.code == 0, up.err
    bound = f"127.0.0.1:{first + 1}"  # the holder has the first port of the range
    assert stack.cli("port", "e", "web", "80").out.strip() == bound
    ps = json.loads(stack.cli("ps", "e", "--json").out)
    assert ps["services"]["web"]["ports"] == {"80/tcp": bound}
    env = stack.cli("env", "e", "--format", "json")
    assert env.code == 0, env.err
    assert json.loads(env.out)["variables"]["ENVKIT_WEB_80_PORT"] == str(first + 1)

    again = stack.cli("plan", "e", "--detailed-exitcode")  # nothing to do: no drift
    assert again.code == 0, again.out + again.err


def test_a_range_held_entirely_is_a_port_conflict(stack: StackFile, docker_client: Any) -> None:
    first = _range_start()
    holders = [socket.socket() for _ in range(3)]
    try:
        for offset, sock in enumerate(holders):
            sock.bind(("127.0.0.1", first + offset))
            sock.listen()
        stack.write(
            "environments: {e: {}}\n"
            "services:\n" + busybox("web", extra=f"ports: ['127.0.0.1:{first}-{first + 2}:80']")
        )
        plan = stack.cli("plan", "e")
        assert plan.code == 1, plan.out + plan.err
        assert "port-in-use" in plan.err
        assert f"host port 127.0.0.1:{first}-{first + 2}/tcp" in plan.err
        holders[1].close()  # one free port in the range: no conflict
        assert stack.cli("plan", "e").code == 0
    finally:
        for sock in holders:
            sock.close()

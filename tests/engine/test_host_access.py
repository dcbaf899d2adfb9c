"""plan shows host access next to the changes (text and JSON), on the real engine."""

from __future__ import annotations

import json

import pytest

from .conftest import IMAGE, StackFile

pytestmark = pytest.mark.engine


def test_plan_lists_host_access_in_text_and_json(stack: StackFile) -> None:
    stack.write(
        "environments: {dev: {}}\n"
        "services:\n"
        f"  web: {{image: '{IMAGE}', command: [sleep, '60'], ports: ['80'],"
        " volumes: ['/etc/hostname:/h:ro']}\n"
    )
    text = stack.cli("plan", "dev")
    assert text.code == 0, text.err
    assert "Host access (refused by --strict):" in text.out
    assert "  ! web: bind-mounts the host's /etc/hostname" in text.out
    assert "  ! web: publishes random/tcp on every interface" in text.out
    doc = json.loads(stack.cli("plan", "dev", "--json").out)
    assert [a["code"] for a in doc["host_access"]] == ["host-bind", "public-port"]
    refused = stack.cli("up", "dev", "--strict")
    assert refused.code == 2 and "error[strict-host-bind]" in refused.err
    assert stack.containers("dev") == {}

"""Parallel ``up``s of instances that publish one fixed host port: the plan-time port check
alone let every one of them see the port free while the first waited on a slow dependency,
and all but one failed half-way. With the port reservations exactly one wins and the
others are refused at plan time, naming the holder, with nothing of theirs left."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from envkit.model import LABEL

from .cleanup import labelled_names
from .conftest import ROOT, StackFile, busybox, free_port

pytestmark = pytest.mark.engine

SLOW_DB = "healthcheck:\n  test: [CMD-SHELL, 'test -f /tmp/ok']\n  interval: 300ms\n  retries: 100"


def slow_web_on(stack: StackFile, port: int) -> None:
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("db", command="sleep 5; touch /tmp/ok; exec sleep 3600", extra=SLOW_DB)
        + busybox(
            "web",
            extra=f"ports: ['127.0.0.1:{port}:80']\ndepends_on: {{db: {{condition: service_healthy}}}}",
        )
    )


def parallel_ups(
    stack: StackFile, n: int, env: Callable[[int], dict[str, str]] | None = None
) -> dict[str, tuple[int, str]]:
    """``up e --instance iK`` for K < n at once: instance -> (exit code, stderr)."""
    runs = {
        f"i{k}": subprocess.Popen(
            stack.argv("up", "e", "--instance", f"i{k}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, **(env(k) if env else {})},
        )
        for k in range(n)
    }
    return {i: (p.wait(timeout=240), p.communicate()[1]) for i, p in runs.items()}


def test_parallel_instances_with_one_fixed_port_exactly_one_wins(
    stack: StackFile, docker_client: Any
) -> None:
    port = free_port()
    slow_web_on(stack, port)
    results = parallel_ups(stack, 5)
    winners = [i for i, (code, _) in results.items() if code == 0]
    assert len(winners) == 1, results
    [winner] = winners
    holder = f"{stack.project('e')}-{winner}-web-1"
    for instance, (code, err) in results.items():
        if instance == winner:
            continue
        assert code == 1, err
        assert "error[port-in-use]" in err and f"127.0.0.1:{port}/tcp" in err, err
        assert f"held by container {holder}" in err, err
        assert "already allocated" not in err
        left = labelled_names(docker_client, f"{LABEL.PROJECT}={stack.project('e')}-{instance}")
        assert left == [], f"{instance} left {left}"
    assert stack.cli("down", "e", "--instance", winner).code == 0


def test_a_port_race_the_reservations_do_not_see_is_rolled_back(
    stack: StackFile, docker_client: Any, tmp_path: Path
) -> None:
    """Runs that do not share reservations (other users: each its own state folder) race
    to the engine; a loser removes what it made and says why."""
    port = free_port()
    slow_web_on(stack, port)
    results = parallel_ups(stack, 3, lambda k: {"ENVKIT_STATE_DIR": str(tmp_path / f"s{k}")})
    winners = [i for i, (code, _) in results.items() if code == 0]
    assert len(winners) == 1, results
    losers = [i for i in results if i not in winners]
    for instance in losers:
        code, err = results[instance]
        assert code == 1 and "port-in-use" in err, err
        left = labelled_names(docker_client, f"{LABEL.PROJECT}={stack.project('e')}-{instance}")
        assert left == [], f"{instance} left {left}"
    rolled = [i for i in losers if "the new instance was rolled back" in results[i][1]]
    assert rolled, results  # all planned before the slow dependency let anyone publish
    holder = f"{stack.project('e')}-{winners[0]}-web-1"
    assert f"held by container {holder}" in results[rolled[0]][1]
    assert stack.cli("down", "e", "--instance", winners[0]).code == 0

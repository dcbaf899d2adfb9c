"""Parallel ``up``s of instances that publish one fixed host port: the plan-time port check
alone let every one of them see the port free while the first waited on a slow dependency,
and all but one failed half-way. With the port reservations exactly one wins and the
others are refused at plan time, naming the holder, with nothing of theirs left."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from envkit.model import LABEL

from .cleanup import labelled_names
from .conftest import ROOT, StackFile, busybox, free_port

pytestmark = pytest.mark.engine

SLOW_DB = "healthcheck:\n  test: [CMD-SHELL, 'test -f /tmp/ok']\n  interval: 300ms\n  retries: 100"


def test_parallel_instances_with_one_fixed_port_exactly_one_wins(
    stack: StackFile, docker_client: Any
) -> None:
    port = free_port()
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("db", command="sleep 3; touch /tmp/ok; exec sleep 3600", extra=SLOW_DB)
        + busybox(
            "web",
            extra=f"ports: ['127.0.0.1:{port}:80']\ndepends_on: {{db: {{condition: service_healthy}}}}",
        )
    )
    runs = {
        f"i{n}": subprocess.Popen(
            stack.argv("up", "e", "--instance", f"i{n}"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for n in range(5)
    }
    results = {i: (p.wait(timeout=240), p.communicate()[1]) for i, p in runs.items()}
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

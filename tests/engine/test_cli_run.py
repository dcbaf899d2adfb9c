"""``envkit run`` on the real engine: a one-off container with the service's config on the
instance network, exit code passed through, never planned, pruned or listed as a
replica, removed by down."""

from __future__ import annotations

import json
import subprocess

from envkit.model import LABEL

from .conftest import StackFile, busybox, free_port


def _run(
    stack: StackFile, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        stack.argv("run", *args),
        capture_output=True,
        text=True,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        timeout=120,
    )


def test_run_a_one_off_with_the_service_config(stack: StackFile) -> None:
    port = free_port()
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("db", command="echo hi > /tmp/x; httpd -f -p 80 -h /tmp")
        + busybox(
            "tool",
            extra="depends_on: [db]\nenvironment: {MODE: svc}\nvolumes: ['data:/data']",
        )
        + "volumes:\n  data: {}\n"
    )
    p = stack.project("e")
    done = _run(
        stack, "e", "-e", "EXTRA=1", "-p", f"127.0.0.1:{port}:81", "tool",
        "sh", "-c", "echo $MODE $EXTRA; wget -qO- http://db/x; touch /data/t; exit 5",
    )  # fmt: skip
    assert done.returncode == 5, done.stderr
    assert done.stdout.split() == ["svc", "1", "hi"]
    names = set(stack.containers("e"))
    assert f"{p}-db-1" in names  # its dependency came up
    (oneoff,) = [n for n in names if n.startswith(f"{p}-tool-run-")]
    labels = stack.containers("e")[oneoff].labels
    assert labels[LABEL.ONEOFF] == "true" and LABEL.REPLICA not in labels
    assert stack.client.volumes.get(f"{p}_data").attrs["Labels"][LABEL.PROJECT] == p

    # never planned/pruned by up, never a replica in ps
    plan = stack.cli("plan", "e", "db")
    assert "run-" not in plan.out and "No changes" in plan.out, plan.out
    assert stack.cli("up", "e").code == 0
    assert oneoff in stack.containers("e")
    ps = json.loads(stack.cli("ps", "e", "--json").out)
    assert all("run-" not in c["name"] for s in ps["services"].values() for c in s["containers"])

    piped = _run(stack, "e", "--rm", "--no-deps", "-T", "tool", "cat", stdin="in\n")
    assert (piped.returncode, piped.stdout) == (0, "in\n"), piped.stderr
    assert len([n for n in stack.containers("e") if "-tool-run-" in n]) == 1  # --rm

    assert stack.cli("down", "e").code == 0
    assert stack.containers("e") == {}  # down removes one-offs too


def test_run_errors(stack: StackFile) -> None:
    stack.write("environments: {e: {}}\nservices:\n" + busybox("db"))
    bad = stack.cli("run", "e", "nope", "true")
    assert bad.code == 2 and "has no service 'nope'" in bad.err
    port = stack.cli("run", "e", "-p", "80:80/tpc", "db", "true")
    assert port.code == 2 and "tcp, udp or sctp" in port.err and "Traceback" not in port.err

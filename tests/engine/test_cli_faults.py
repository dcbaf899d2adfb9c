"""Faults through the CLI against the real engine: each gives a clear message, a non-zero
exit, no traceback, and a state that the next ``up`` repairs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from typing import Any

import pytest

from .conftest import IMAGE, StackFile, busybox, free_port

pytestmark = pytest.mark.engine


def no_traceback(text: str) -> None:
    assert "Traceback" not in text and "error[internal]" not in text, text


def nothing_created(stack: StackFile, client: Any) -> None:
    selector = {"label": f"io.envkit.stack={stack.name}"}
    assert client.containers.list(all=True, filters=selector) == []
    assert client.networks.list(filters=selector) == []
    assert client.volumes.list(filters=selector) == []


def converges(stack: StackFile, env: str = "e") -> None:
    """The next ``up`` succeeds and leaves nothing to do."""
    up = stack.cli("up", env, "--wait", "--timeout", "30")
    assert up.code == 0, up.err
    plan = stack.cli("plan", env, "--detailed-exitcode")
    assert plan.code == 0, plan.out + plan.err


def wait_for(predicate: Any, timeout_s: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


# -- engine unreachable -------------------------------------------------------------------


@pytest.mark.parametrize("command", [("plan", "e"), ("up", "e"), ("down", "e"), ("ps",)])
def test_engine_unreachable_names_docker_host(stack: StackFile, command: tuple[str, ...]) -> None:
    stack.write("environments: {e: {}}\nservices:\n" + busybox("app"))
    r = stack.cli(*command, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert r.code == 1, r.text
    assert "error[engine-unavailable]" in r.err
    assert "DOCKER_HOST=unix:///nonexistent.sock" in r.err
    assert "hint:" in r.err
    no_traceback(r.err)
    converges(stack)


# -- images -------------------------------------------------------------------------------


def test_missing_image_with_pull_policy_never_is_a_plan_conflict(
    stack: StackFile, docker_client: Any
) -> None:
    ref = f"envkit-test/missing:{stack.name}"
    stack.write("environments: {e: {}}\nservices:\n" + busybox("app", extra="pull_policy: never"))
    stack.edit(IMAGE, ref)
    plan = stack.cli("plan", "e")
    assert plan.code == 1
    assert "error[image-missing]" in plan.err and ref in plan.err
    assert "hint:" in plan.err and "load" in plan.err
    up = stack.cli("up", "e")
    assert up.code == 1 and "error[image-missing]" in up.err and "nothing was changed" in up.err
    no_traceback(up.err)
    nothing_created(stack, docker_client)

    docker_client.images.get(IMAGE).tag(ref)
    try:
        converges(stack)
    finally:
        stack.cli("down", "e")
        docker_client.images.remove(ref)


def test_missing_image_with_pull_policy_missing_says_what_to_do(stack: StackFile) -> None:
    # A registry on a closed loopback port: the pull fails at once and stays on this host.
    ref = f"127.0.0.1:{free_port()}/envkit-test/missing:{stack.name}"
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("app", extra="pull_policy: missing")
        + busybox("other")
    )
    stack.edit(f"image: {IMAGE}", f"image: {ref}", 1)
    # plan asks the registry first: the pull could not succeed, so nothing is begun.
    plan = stack.cli("plan", "e")
    assert plan.code == 1 and f"image {ref} is missing locally, not pullable here" in plan.out
    up = stack.cli("up", "e")
    assert up.code == 1, up.text
    assert f"image {ref} of service app is missing locally, not pullable here" in up.err
    assert "connection refused" in up.err and "nothing was changed" in up.err
    assert "hint:" in up.err and "bundle load" in up.err
    no_traceback(up.err)
    stack.edit(ref, IMAGE)
    converges(stack)


# -- ports --------------------------------------------------------------------------------


def test_port_held_by_a_foreign_container_is_a_plan_conflict(
    stack: StackFile, docker_client: Any
) -> None:
    port = free_port()
    foreign = docker_client.containers.run(
        IMAGE,
        ["sleep", "3600"],
        name=f"{stack.name}-foreign",
        labels=stack.label(),
        ports={"80/tcp": ("127.0.0.1", port)},
        detach=True,
        init=True,
    )
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("web", extra=f"ports: ['127.0.0.1:{port}:80']")
        + busybox("other")
    )
    for command in (("plan", "e"), ("up", "e")):
        r = stack.cli(*command)
        assert r.code == 1, r.text
        assert "error[port-in-use]" in r.err
        assert f"127.0.0.1:{port}/tcp" in r.err
        assert f"container {foreign.name} (not managed by envkit)" in r.err
        no_traceback(r.err)
    selector = {"label": f"io.envkit.stack={stack.name}"}
    assert docker_client.containers.list(all=True, filters=selector) == []
    assert docker_client.networks.list(filters=selector) == []
    foreign.remove(force=True)
    converges(stack)


def test_port_bound_by_a_host_process_is_a_plan_conflict(
    stack: StackFile, docker_client: Any
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        stack.write(
            "environments: {e: {}}\nservices:\n"
            + busybox("web", extra=f"ports: ['127.0.0.1:{port}:80']")
        )
        r = stack.cli("up", "e")
        assert r.code == 1, r.text
        assert "error[port-in-use]" in r.err and "a process on the host" in r.err
        assert f"127.0.0.1:{port}/tcp" in r.err
        no_traceback(r.err)
        nothing_created(stack, docker_client)
    converges(stack)


# -- containers that fail -----------------------------------------------------------------


@pytest.mark.parametrize("wait", [False, True])
def test_container_that_exits_at_once_shows_its_logs(stack: StackFile, wait: bool) -> None:
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("broken", command="echo first line; echo config is wrong >&2; exit 3")
        + busybox("fine")
    )
    p = stack.project("e")
    r = stack.cli("up", "e", *(["--wait", "--timeout", "20"] if wait else []))
    assert r.code == 1, r.text
    assert f"{p}-broken-1 exited with code 3" in r.err
    assert "first line" in r.err and "config is wrong" in r.err
    assert "envkit logs e broken" in r.err
    no_traceback(r.err)
    stack.write("environments: {e: {}}\nservices:\n" + busybox("broken") + busybox("fine"))
    converges(stack)


def test_healthcheck_that_never_passes_times_out_with_its_health_log(stack: StackFile) -> None:
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox(
            "db",
            extra="healthcheck:\n"
            "  test: [CMD-SHELL, 'echo not ready yet; exit 1']\n"
            "  interval: 300ms\n  retries: 1000",
        )
        + busybox("app", extra="depends_on: {db: {condition: service_healthy}}")
    )
    p = stack.project("e")
    t0 = time.monotonic()
    r = stack.cli("up", "e", "--timeout", "2")
    assert time.monotonic() - t0 < 15
    assert r.code == 1, r.text
    assert "error[timeout]" in r.err
    assert f"{p}-db-1 not healthy after 2s (state running, health starting)" in r.err
    assert f"--- health log of {p}-db-1 ---" in r.err and "not ready yet" in r.err
    assert "app waits for it (depends_on condition service_healthy)" in r.err
    assert "app not started" not in r.err  # one failure, not two
    no_traceback(r.err)
    stack.write("environments: {e: {}}\nservices:\n" + busybox("db") + busybox("app"))
    converges(stack)


# -- the lock -----------------------------------------------------------------------------


SLOW = "healthcheck:\n  test: [CMD-SHELL, 'test -f /tmp/ok']\n  interval: 200ms\n  retries: 1000"


def slow_stack(stack: StackFile, seconds: float, rev: str = "1", n: int = 3) -> None:
    """``slow`` becomes healthy after ``seconds``; ``n`` services wait for it."""
    body = "environments: {e: {}}\nservices:\n" + busybox(
        "slow",
        command=f"sleep {seconds}; touch /tmp/ok; exec sleep 3600",
        extra=f"environment: {{REV: '{rev}'}}\n{SLOW}",
    )
    for i in range(n):
        body += busybox(
            f"dep{i}",
            extra=f"environment: {{REV: '{rev}'}}\n"
            "depends_on: {slow: {condition: service_healthy}}",
        )
    body += busybox("free", extra=f"environment: {{REV: '{rev}'}}")
    stack.write(body)


def test_second_up_waits_for_the_lock_or_times_out(stack: StackFile) -> None:
    slow_stack(stack, 4)
    first = subprocess.Popen(
        stack.argv("up", "e", "--wait", "--timeout", "30"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: stack.containers("e"), what="the first up to create containers")
        locked = stack.cli("up", "e", "--lock-timeout", "1")
        assert locked.code == 1, locked.text
        assert "error[locked]" in locked.err
        assert f"another envkit (pid {first.pid}) still holds the lock" in locked.err
        assert f"waiting for another envkit (pid {first.pid})" in locked.err
        no_traceback(locked.err)

        second = subprocess.run(stack.argv("up", "e"), capture_output=True, text=True, timeout=60)
        assert first.wait(30) == 0, first.stderr.read() if first.stderr else ""
        assert second.returncode == 0, second.stderr
        assert f"waiting for another envkit (pid {first.pid})" in second.stderr
        assert f"No changes. {stack.project('e')} matches the stack." in second.stderr
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(10)


# -- interrupted applies ------------------------------------------------------------------


def expected_names(stack: StackFile, n: int = 3) -> set[str]:
    p = stack.project("e")
    return {f"{p}-slow-1", f"{p}-free-1", *(f"{p}-dep{i}-1" for i in range(n))}


@pytest.mark.parametrize("delay", [0.0, 0.3, 0.8, 1.6])
def test_kill_9_during_up_then_up_converges(
    stack: StackFile, docker_client: Any, delay: float
) -> None:
    # First a running instance, then a change of every service, killed part-way.
    slow_stack(stack, 1, rev="1")
    converges(stack)
    slow_stack(stack, 1, rev="2")
    proc = subprocess.Popen(
        stack.argv("up", "e", "--wait", "--timeout", "30"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if delay:
        wait_for(lambda: proc.poll() is not None or "stopping" in _peek(stack), 20, "apply")
        time.sleep(delay)
    else:
        time.sleep(0.6)  # mid-plan or in the first engine calls
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    converges(stack)
    names = {
        c.name
        for c in docker_client.containers.list(
            all=True, filters={"label": f"io.envkit.stack={stack.name}"}
        )
    }
    assert names == expected_names(stack)
    # Low-level list: the SDK's list() inspects every container on the engine, and other
    # tests' containers may go between the list and the inspect.
    everything = [
        str(raw["Names"][0]).lstrip("/") for raw in docker_client.api.containers(all=True)
    ]
    strays = [n for n in everything if n.startswith(stack.name) and n not in names]
    assert strays == []
    for c in stack.containers("e").values():
        assert c.attrs["State"]["Running"], c.name
        assert "REV=2" in c.attrs["Config"]["Env"]


def _peek(stack: StackFile) -> str:
    """A marker that apply has started touching containers (some container is REV=2 or
    one of the REV=1 ones is gone)."""
    listed = stack.client.api.containers(
        all=True, filters={"label": f"io.envkit.project={stack.project('e')}"}
    )
    if len(listed) < len(expected_names(stack)):
        return "stopping"
    if any('"REV":"2"' in c["Labels"].get("io.envkit.spec", "") for c in listed):
        return "stopping"
    return ""


def test_ctrl_c_during_up_exits_130_and_up_converges(stack: StackFile) -> None:
    slow_stack(stack, 5)
    proc = subprocess.Popen(
        stack.argv("up", "e", "--wait", "--timeout", "60"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: stack.containers("e"), what="up to create containers")
        time.sleep(0.3)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert time.monotonic() - t0 < 5, "Ctrl-C must stop promptly"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130, err
    assert "interrupted; run the same command again to converge" in err
    no_traceback(err)
    converges(stack)
    assert set(stack.containers("e")) == expected_names(stack)


def test_down_while_nothing_exists_and_twice(stack: StackFile) -> None:
    stack.write("environments: {e: {}}\nservices:\n" + busybox("app"))
    for _ in range(2):
        r = stack.cli("down", "e", "--volumes")
        assert r.code == 0, r.text
    converges(stack)
    for _ in range(2):
        r = stack.cli("down", "e")
        assert r.code == 0, r.text
    assert stack.containers("e") == {}


def test_os_environ_untouched() -> None:
    assert os.environ.get("DOCKER_HOST") != "unix:///nonexistent.sock"

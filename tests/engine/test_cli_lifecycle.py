"""``envkit stop|start|restart|kill|pause|unpause|top|exec`` against the real engine, each
test with its own stack (removed by label afterwards, even on failure)."""

from __future__ import annotations

import subprocess

from .conftest import StackFile, busybox


def _two(stack: StackFile) -> None:
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("db")
        + busybox("web", extra="depends_on: [db]\nreplicas: 2")
    )
    assert stack.cli("up", "e").code == 0


def _states(stack: StackFile) -> dict[str, str]:
    return {n: c.status for n, c in stack.containers("e").items()}


def test_stop_start_and_up_after_stop(stack: StackFile) -> None:
    _two(stack)
    p = stack.project("e")
    done = stack.cli("stop", "e", "web", "--index", "2")
    assert done.code == 0, done.text
    assert _states(stack) == {
        f"{p}-db-1": "running",
        f"{p}-web-1": "running",
        f"{p}-web-2": "exited",
    }
    done = stack.cli("stop", "e")
    assert done.code == 0 and f"{p}-web-2: already exited" in done.err
    assert set(_states(stack).values()) == {"exited"}
    assert stack.cli("start", "e", "db").code == 0
    assert _states(stack)[f"{p}-db-1"] == "running"
    up = stack.cli("up", "e")  # up after stop starts the rest again
    assert up.code == 0, up.text
    assert set(_states(stack).values()) == {"running"}


def test_pause_then_up_unpauses_and_unpause_restart_kill(stack: StackFile) -> None:
    _two(stack)
    p = stack.project("e")
    assert stack.cli("pause", "e", "db").code == 0
    assert _states(stack)[f"{p}-db-1"] == "paused"
    plan = stack.cli("plan", "e")
    assert "paused, will be unpaused" in plan.text, plan.text
    assert stack.cli("up", "e").code == 0
    assert _states(stack)[f"{p}-db-1"] == "running"

    assert stack.cli("pause", "e").code == 0
    assert set(_states(stack).values()) == {"paused"}
    assert stack.cli("unpause", "e").code == 0
    assert set(_states(stack).values()) == {"running"}

    before = stack.containers("e")[f"{p}-db-1"].attrs["State"]["StartedAt"]
    assert stack.cli("restart", "e", "db", "-t", "1").code == 0
    after = stack.containers("e")[f"{p}-db-1"].attrs["State"]
    assert after["Status"] == "running" and after["StartedAt"] != before

    done = stack.cli("kill", "e", "web", "-s", "SIGKILL")
    assert done.code == 0, done.text
    web = stack.containers("e")[f"{p}-web-1"].attrs["State"]
    assert (web["Status"], web["ExitCode"]) == ("exited", 137)
    again = stack.cli("kill", "e", "web")
    assert again.code == 1 and "error[not-running]" in again.err


def test_unknown_service_and_missing_replica_are_located_errors(stack: StackFile) -> None:
    _two(stack)
    bad = stack.cli("stop", "e", "nope")
    assert bad.code == 2 and "has no service 'nope'" in bad.err and "db, web" in bad.err
    none = stack.cli("top", "e", "db", "--index", "3")
    assert none.code == 1 and "error[not-running]" in none.err and "Traceback" not in none.text


def test_top_lists_processes_per_container(stack: StackFile) -> None:
    _two(stack)
    done = stack.cli("top", "e", "db")
    assert done.code == 0, done.text
    assert done.out.splitlines()[0] == f"{stack.project('e')}-db-1"
    assert "PID" in done.out and "sleep 3600" in done.out


def test_exec_passes_options_and_the_exit_code(stack: StackFile) -> None:
    _two(stack)
    done = subprocess.run(
        stack.argv(
            "exec",
            "e",
            "-e",
            "A=v",
            "-u",
            "1234",
            "-w",
            "/tmp",
            "--index",
            "2",
            "web",
            "sh",
            "-c",
            "echo $A $(id -u) $(pwd) $(hostname); exit 7",
        ),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 7, done.stderr
    a, uid, cwd, _host = done.stdout.split()
    assert (a, uid, cwd) == ("v", "1234", "/tmp")
    piped = subprocess.run(
        stack.argv("exec", "e", "-T", "db", "cat"),
        input="through\n",
        capture_output=True,
        text=True,
    )
    assert (piped.returncode, piped.stdout) == (0, "through\n"), piped.stderr
    assert stack.cli("stop", "e", "db").code == 0
    stopped = stack.cli("exec", "e", "db", "true")
    assert stopped.code == 1 and "is exited, not running" in stopped.err


def test_exec_allocates_a_terminal_when_stdin_is_one_and_not_with_T(stack: StackFile) -> None:
    import os
    import pty

    stack.write("environments: {e: {}}\nservices:\n" + busybox("db"))
    assert stack.cli("up", "e").code == 0

    def on_a_terminal(*extra: str) -> tuple[int, bytes]:
        leader, follower = pty.openpty()
        try:
            proc = subprocess.Popen(
                stack.argv("exec", "e", *extra, "db", "sh", "-c", "tty; exit 4"),
                stdin=follower,
                stdout=follower,
                stderr=follower,
            )
            os.close(follower)
            proc.wait(60)
            screen = b""
            try:
                while chunk := os.read(leader, 4096):
                    screen += chunk
            except OSError:
                pass
        finally:
            os.close(leader)
        return proc.returncode, screen

    code, screen = on_a_terminal()
    assert code == 4 and b"/dev/pts/" in screen, screen
    code, screen = on_a_terminal("-T")
    assert code == 4 and b"not a tty" in screen, screen

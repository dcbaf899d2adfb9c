"""`envkit up` and `down` in a real pseudo-terminal against the real engine: the final
screen (the captured bytes played through pyte, a terminal emulator) has one line per
object, each in a final state, nothing wider than the terminal, no duplicates, and the
summary line; with NO_COLOR no colour codes at all."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time
from dataclasses import dataclass

import pyte
import pytest

from .conftest import StackFile, busybox

pytestmark = pytest.mark.engine

ROWS = 60
OBJECT_ROW = re.compile(r"^[✔✘•] ")
SGR = re.compile(rb"\x1b\[[0-9;]*m")
FINAL = {"created", "started", "healthy", "ready", "recreated", "removed", "unchanged", "kept"}


@dataclass(frozen=True)
class Screen:
    code: int
    raw: bytes
    rows: list[str]  # the non-blank rows of the final screen, right-stripped

    @property
    def objects(self) -> list[str]:
        return [r for r in self.rows if OBJECT_ROW.match(r)]

    @property
    def summary(self) -> str:
        return self.rows[-1]


def in_terminal(
    argv: list[str],
    width: int,
    env: dict[str, str] | None = None,
    *,
    interrupt_on: bytes | None = None,
    reply: tuple[bytes, bytes] | None = None,
) -> Screen:
    """Run ``argv`` with stdin, stdout and stderr on a new pseudo-terminal ``width``
    columns wide; the final screen once it exits. ``interrupt_on``: send SIGINT (Ctrl-C)
    once the output shows these bytes. ``reply``: (prompt, answer) types the answer once the
    prompt shows."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, width, 0, 0))
    full_env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
    full_env.update({"TERM": "xterm-256color", **(env or {})})
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=full_env, start_new_session=True
    )
    os.close(slave)
    raw = b""
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # EIO: every writer is gone
                    break
                if not chunk:
                    break
                raw += chunk
                if interrupt_on is not None and interrupt_on in raw:
                    proc.send_signal(signal.SIGINT)
                    interrupt_on = None
                if reply is not None and reply[0] in raw:
                    os.write(master, reply[1])
                    reply = None
            elif proc.poll() is not None:
                break
        code = proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        os.close(master)
    screen = pyte.Screen(width, ROWS)
    pyte.ByteStream(screen).feed(raw)
    return Screen(code, raw, [r.rstrip() for r in screen.display if r.strip()])


def check_display(screen: Screen, width: int, count: int) -> None:
    """``count`` object lines, each once, final, within the width, with no wrapped
    continuation between them, then the summary."""
    text = "\n".join(screen.rows)
    objects = screen.objects
    assert screen.code == 0, text
    assert len(objects) == count, text
    assert len(set(objects)) == count, text
    assert all(len(r) < width for r in objects), text
    first = screen.rows.index(objects[0])
    assert screen.rows[first : first + count] == objects, text  # nothing wrapped in between
    assert screen.rows[first + count :] == [screen.summary], text
    for row in objects:
        assert row.startswith("✔"), text
        state = row.split()[-2]  # ... STATE ELAPSED
        assert state in FINAL, text
        assert re.fullmatch(r"\d+\.\d+s|\d+m\d\ds", row.split()[-1]), text


def write_stack(stack: StackFile, mode: str = "a") -> None:
    stack.write(
        "environments: {e: {}}\n"
        "volumes: {data: {}}\n"
        "services:\n"
        + busybox(
            "db",
            command="sleep 1; touch /tmp/ok; exec sleep 3600",
            extra=(
                "healthcheck: {test: ['CMD-SHELL', 'test -f /tmp/ok'], interval: 1s, retries: 30}\n"
                "volumes: ['data:/data']\n"
                f"environment: {{MODE: {mode}}}"
            ),
        )
        + busybox("web", extra="depends_on: {db: {condition: service_healthy}}")
    )


@pytest.mark.parametrize("width", [50, 120])
def test_up_and_down_in_a_terminal(stack: StackFile, width: int) -> None:
    write_stack(stack)
    p = stack.project("e")

    fresh = in_terminal(stack.argv("up", "e"), width)
    check_display(fresh, width, 4)  # network, volume, db, web
    assert re.fullmatch(r"4 created in \d+\.\d s", fresh.summary), fresh.summary
    kinds = [r.split()[1] for r in fresh.objects]
    assert kinds == ["network", "volume", "container", "container"]
    assert f"{p}-web-1 (web)"[-15:] in fresh.objects[3]  # a narrow one cuts the project
    assert SGR.search(fresh.raw)  # colour on a terminal

    # A no-op that waits: the dependency wait and the readiness wait both end.
    again = in_terminal(stack.argv("up", "e", "--wait"), width)
    check_display(again, width, 2)
    assert re.fullmatch(r"no changes, 2 unchanged in \d+\.\d s", again.summary), again.summary
    assert [r.split()[-2] for r in again.objects] == ["healthy", "ready"]
    assert "waiting" not in "\n".join(again.rows)

    write_stack(stack, mode="b")
    changed = in_terminal(stack.argv("up", "e"), width, env={"NO_COLOR": "1"})
    check_display(changed, width, 2)
    assert re.fullmatch(r"1 recreated, 1 unchanged in \d+\.\d s", changed.summary)
    assert not SGR.search(changed.raw)  # NO_COLOR: no colour codes at all

    down = in_terminal(stack.argv("down", "e", "--volumes", "--yes"), width)
    check_display(down, width, 4)
    assert re.fullmatch(r"4 removed in \d+\.\d s", down.summary), down.summary
    assert stack.containers("e") == {}

    gone = in_terminal(stack.argv("down", "e"), width)
    assert gone.code == 0 and gone.objects == [], gone.rows
    assert re.fullmatch(r"nothing to remove in \d+\.\d s", gone.summary), gone.rows


def test_ctrl_c_leaves_no_line_in_progress(stack: StackFile) -> None:
    """Interrupted while web waits for a db that never becomes healthy: the waiting line
    ends as interrupted, the summary says so, the cursor is shown again, exit 130."""
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox(
            "db",
            extra="healthcheck: {test: ['CMD-SHELL', 'false'], interval: 1s, retries: 100}",
        )
        + busybox("web", extra="depends_on: {db: {condition: service_healthy}}")
    )
    width = 80
    screen = in_terminal(stack.argv("up", "e"), width, interrupt_on=b"waiting for")
    text = "\n".join(screen.rows)
    assert screen.code == 130, text
    objects = screen.objects
    assert len(objects) == 3 and len(set(objects)) == 3, text  # network, db, web
    assert not any(r.startswith("•") for r in objects), text  # nothing left in progress
    assert objects[2].startswith("✘") and "web) interrupted (waiting for" in objects[2], text
    assert re.fullmatch(r"2 created, 1 interrupted in \d+\.\d s", screen.rows[-2]), text
    assert screen.rows[-1] == "interrupted; run the same command again to converge", text
    assert screen.raw.rfind(b"\x1b[?25h") > screen.raw.rfind(b"\x1b[?25l")  # cursor back


def test_down_volumes_on_a_terminal_asks_before_deleting_data(stack: StackFile) -> None:
    write_stack(stack)
    assert stack.cli("up", "e").code == 0
    volume = f"{stack.project('e')}_data"
    prompt = b"Delete them? [y/N]"
    kept = in_terminal(stack.argv("down", "e", "--volumes"), 120, reply=(prompt, b"n\r"))
    text = "\n".join(kept.rows)
    assert kept.code == 1, text
    assert f"- {volume}" in text and "nothing was removed" in text
    assert stack.client.volumes.get(volume)  # the data is still there
    gone = in_terminal(stack.argv("down", "e", "--volumes"), 120, reply=(prompt, b"y\r"))
    assert gone.code == 0, "\n".join(gone.rows)
    assert stack.client.volumes.list(filters={"name": volume}) == []

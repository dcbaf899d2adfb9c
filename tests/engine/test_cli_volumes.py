"""``envkit volumes`` on the real engine: named and anonymous volumes listed with their
users; --rm refused while in use, asks only on a terminal, --yes skips the question."""

from __future__ import annotations

import os
import pty
import subprocess

from .conftest import StackFile, busybox


def _write(stack: StackFile) -> None:
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("db", extra="volumes: ['data:/data', '/anon']")
        + "volumes:\n  data: {}\n  spare: {}\n"
    )


def test_list_and_remove_volumes(stack: StackFile) -> None:
    _write(stack)
    p = stack.project("e")
    assert stack.cli("up", "e").code == 0
    listed = stack.cli("volumes", "e")
    assert listed.code == 0, listed.text
    rows = [line.split() for line in listed.out.splitlines()[1:]]
    assert [p + "_data", "named", "data", f"{p}-db-1"] in rows
    assert [p + "_spare", "named", "spare", "-"] in rows
    anon = [r for r in rows if r[1] == "anonymous"]
    assert len(anon) == 1 and anon[0][2:] == ["-", f"{p}-db-1"]

    busy = stack.cli("volumes", "e", "--rm", "--yes")
    assert busy.code == 1 and "error[volume-in-use]" in busy.err
    assert f"{p}_data by {p}-db-1" in busy.err
    assert {v.name for v in stack.client.volumes.list(filters={"name": p})} >= {
        f"{p}_data",
        f"{p}_spare",
    }

    assert stack.cli("down", "e").code == 0
    # on a terminal it asks; "n" keeps everything
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            stack.argv("volumes", "e", "--rm"),
            stdin=follower,
            stdout=subprocess.PIPE,
            stderr=follower,
        )
        os.close(follower)
        os.write(leader, b"n\n")
        proc.wait(60)
        screen = b""
        try:
            while chunk := os.read(leader, 4096):
                screen += chunk
        except OSError:
            pass
    finally:
        os.close(leader)
    assert proc.returncode == 1, screen
    assert b"Delete them? [y/N]" in screen and f"  - {p}_data".encode() in screen
    assert stack.client.volumes.get(f"{p}_data")

    # without a terminal it never asks
    done = subprocess.run(
        stack.argv("volumes", "e", "--rm"), capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    assert "Delete them" not in done.stderr and f"{p}_data: removed" in done.stderr
    assert stack.client.volumes.list(filters={"label": f"io.envkit.project={p}"}) == []
    none = stack.cli("volumes", "e")
    assert none.code == 0 and "has no volumes" in none.err

"""The watchdog's parent-death detection and its stand-down, without an engine."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from envkit.watchdog import STAND_DOWN, Watchdog, wait_for_parent


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_eof_on_the_pipe_means_the_parent_died() -> None:
    read_end, write_end = os.pipe()
    os.close(write_end)
    try:
        why = wait_for_parent(read_end, os.getpid(), poll_s=0.05)
    finally:
        os.close(read_end)
    assert why == "the parent's end of the pipe closed (the parent exited)"


def test_a_stand_down_is_not_a_death_even_when_written_in_pieces() -> None:
    read_end, write_end = os.pipe()

    def write() -> None:
        os.write(write_end, STAND_DOWN[:3])
        os.write(write_end, STAND_DOWN[3:])

    threading.Thread(target=write).start()
    try:
        assert wait_for_parent(read_end, os.getpid(), poll_s=0.05) is None
    finally:
        os.close(read_end)
        os.close(write_end)


def test_a_dead_parent_is_seen_while_a_forked_child_still_holds_the_pipe() -> None:
    read_end, write_end = os.pipe()  # the open write end: a forked child kept a copy
    try:
        why = wait_for_parent(read_end, dead_pid(), poll_s=0.05)
    finally:
        os.close(read_end)
        os.close(write_end)
    assert why is not None and why.endswith("is gone")


def test_spawn_and_stand_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVKIT_STATE_DIR", str(tmp_path))
    dog = Watchdog.spawn("shop-ci-abc123")
    assert dog.alive()
    assert dog.log_path.parent == tmp_path / "watchdog"
    dog.stand_down()
    assert not dog.alive() and dog.process.returncode == 0
    assert not dog.log_path.exists()  # it did nothing: no log kept
    dog.stand_down()  # twice is fine

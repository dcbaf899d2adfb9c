"""``envkit logs`` against the real engine: --tail with and without -f, --since/--until,
-t, several services with aligned prefixes, no colour into a pipe."""

from __future__ import annotations

import re
import subprocess
import time

from .conftest import StackFile, busybox

_COUNT = "i=0; while [ $i -lt 5 ]; do echo line $i; i=$((i+1)); done; sleep 3600"


def _up(stack: StackFile) -> None:
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("counter", command=_COUNT)
        + busybox("other", command="echo other here; sleep 3600")
    )
    assert stack.cli("up", "e").code == 0
    deadline = time.monotonic() + 20
    while "line 4" not in stack.cli("logs", "e", "counter").out:
        assert time.monotonic() < deadline


def test_follow_honours_tail(stack: StackFile) -> None:
    """The verified bug: `logs -f --tail 2` printed every line."""
    _up(stack)
    proc = subprocess.Popen(
        stack.argv("logs", "e", "counter", "-f", "--tail", "2"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        second = proc.stdout.readline() if proc.stdout else ""
    finally:
        proc.kill()
        proc.wait(10)
    assert (first, second) == ("line 3\n", "line 4\n")


def test_tail_since_until_timestamps_and_prefixes(stack: StackFile) -> None:
    _up(stack)
    p = stack.project("e")
    assert stack.cli("logs", "e", "counter", "--tail", "1").out == "line 4\n"
    assert stack.cli("logs", "e", "counter", "--since", "2030-01-01T00:00:00Z").out == ""
    assert stack.cli("logs", "e", "counter", "--until", "1h").out == ""
    assert stack.cli("logs", "e", "counter", "--since", "10m").out.count("line") == 5
    stamped = stack.cli("logs", "e", "counter", "-t", "--tail", "1").out
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line 4\n", stamped), stamped

    both = stack.cli("logs", "e", "counter", "other")
    assert f"{p}-counter-1 | line 0" in both.out
    assert f"{p}-other-1   | other here" in both.out  # aligned
    assert "\x1b[" not in both.out  # not a terminal: no colour
    bare = stack.cli("logs", "e", "--no-log-prefix")
    assert "other here\n" in bare.out and "line 0\n" in bare.out and " | " not in bare.out

    bad = stack.cli("logs", "e", "--since", "yesterday")
    assert bad.code == 2 and "neither a duration" in bad.err

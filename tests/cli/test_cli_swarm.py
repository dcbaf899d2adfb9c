"""What ``plan``, ``up`` and ``down`` take on one engine but mean nothing on a Swarm is
refused before anything connects (the manager here does not exist), never ignored:
``down cluster web`` must not take the whole stack down."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from envkit.cli import main

STACK = """\
stack: s
environments:
  cluster: {engine: {swarm: "unix:///nonexistent/envkit-manager.sock"}}
services:
  web: {image: 10.0.0.1:5000/busybox}
  api: {image: 10.0.0.1:5000/busybox}
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "what", "hint"),
    [
        (["up", "cluster", "--plan", "saved.json"], "--plan", "envkit plan cluster"),
        (["up", "cluster", "web"], "SERVICE...", "without services"),
        (["down", "cluster", "web"], "SERVICE...", "delete it from the stack file"),
        (["plan", "cluster", "-o", "saved.json"], "-o/--out", "without it"),
        (["up", "web"], "SERVICE...", "without services"),  # the only environment, implied
    ],
)
def test_what_means_nothing_on_a_swarm_is_refused(
    tmp_path: Path, argv: list[str], what: str, hint: str
) -> None:
    stack = tmp_path / "envkit.yaml"
    stack.write_text(STACK, encoding="utf-8")
    code, _, err = run("-f", str(stack), *argv)
    assert code == 2, err
    assert f"error[usage]: {what} does not apply to environment cluster, which is on a Swarm" in err
    assert hint in err and "nonexistent" not in err  # refused before connecting
    assert not (tmp_path / "saved.json").exists()

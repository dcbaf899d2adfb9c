"""Bind sources that do not exist: a long-syntax bind without ``create_host_path`` is a
located conflict before anything is created (the engine would refuse it half-way), and a
folder whose creation would follow a symbolic link is never created."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import StackFile, busybox

pytestmark = pytest.mark.engine


def test_a_long_syntax_bind_to_a_missing_path_is_refused_by_plan(stack: StackFile) -> None:
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("web", extra="volumes:\n  - {type: bind, source: ./nothere, target: /d}")
    )
    for verb in ("plan", "up"):
        ran = stack.cli(verb, "e")
        assert ran.code == 1, ran.out + ran.err
        assert "error[bind-source-missing]" in ran.out + ran.err
        assert f"the bind source {stack.dir / 'nothere'} (at /d) does not exist" in ran.err
        assert "Traceback" not in ran.err
    assert not (stack.dir / "nothere").exists()
    assert stack.containers("e") == {}  # nothing was created
    as_json = json.loads(stack.cli("plan", "e", "--json").out)
    assert [c["code"] for c in as_json["conflicts"]] == ["bind-source-missing"]

    stack.edit("target: /d}", "target: /d, bind: {create_host_path: true}}")
    up = stack.cli("up", "e")
    assert up.code == 0, up.err
    assert (stack.dir / "nothere").is_dir()


def test_a_folder_is_not_created_through_a_symlink(stack: StackFile, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (stack.dir / "link").symlink_to(outside)
    stack.write(
        "environments: {e: {}}\nservices:\n" + busybox("web", extra="volumes: [./link/sub:/d]")
    )
    up = stack.cli("up", "e")
    assert up.code == 1, up.out + up.err
    assert "error[unsafe-bind-source]" in up.err
    assert f"{stack.dir / 'link'} is a symbolic link" in up.err
    assert not (outside / "sub").exists()
    assert stack.containers("e") == {}

"""scripts/ci-example.sh, the CI recipe, run as a pipeline would run it: it succeeds, and
whether its check passes or fails, it leaves nothing of its instance behind.

The script runs on a copy of stacks/web.yaml under a unique stack name, so what is left
behind is found by that name (and cleaned up, even when the test fails)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envkit.model import LABEL

from .cleanup import labelled_names, remove_labelled
from .conftest import ROOT

pytestmark = pytest.mark.engine


@pytest.fixture
def web_stack(docker_client: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    name = f"r{uuid.uuid4().hex[:8]}"
    text = (ROOT / "stacks" / "web.yaml").read_text()
    assert "\nstack: web\n" in text
    path = tmp_path / "web.yaml"
    path.write_text(text.replace("\nstack: web\n", f"\nstack: {name}\n"))
    try:
        yield name, path
    finally:
        remove_labelled(docker_client, f"{LABEL.STACK}={name}")


def left_behind(client: Any, name: str) -> list[str]:
    return labelled_names(client, f"{LABEL.STACK}={name}")


def run_recipe(path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "ci-example.sh")],
        env={**os.environ, "STACK": str(path), "ENVKIT": f"{sys.executable} -m envkit", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_ci_recipe_passes_and_leaves_nothing_behind(
    web_stack: tuple[str, Path], docker_client: Any
) -> None:
    name, path = web_stack
    done = run_recipe(path)
    assert done.returncode == 0, done.stderr
    assert "ci: GET /migrated -> 200 'ok'" in done.stderr
    assert "ci: checks passed" in done.stderr
    assert f"ci: tearing down instance {name}" not in done.stderr  # an id, not the stack
    assert left_behind(docker_client, name) == []


def test_a_failing_check_fails_the_job_and_still_leaves_nothing_behind(
    web_stack: tuple[str, Path], docker_client: Any
) -> None:
    name, path = web_stack
    done = run_recipe(path, CHECK_PATH="/missing")
    assert done.returncode == 1
    assert "ci: GET /missing failed: HTTP Error 404" in done.stderr
    assert "ci: tearing down instance" in done.stderr
    assert left_behind(docker_client, name) == []

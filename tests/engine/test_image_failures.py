"""An image that cannot be had, on a real engine (no registry answers: a pull of an absent
image fails). Each failure is reported once, against its own service; and plan says so
before up changes anything."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envkit.model import LABEL

from .cleanup import remove_labelled
from .conftest import IMAGE
from .images_support import envkit, free_port

pytestmark = pytest.mark.engine


@pytest.fixture
def name(docker_client: Any) -> Iterator[str]:
    stack = f"t{uuid.uuid4().hex[:8]}"
    try:
        yield stack
    finally:
        remove_labelled(docker_client, f"{LABEL.STACK}={stack}")


def _stack(tmp_path: Path, name: str, ref: str) -> Path:
    """web (2 replicas) and other share the absent image ``ref``; ok has a local one."""
    path = tmp_path / "envkit.yaml"
    path.write_text(
        f"stack: {name}\nenvironments: {{e: {{}}}}\nservices:\n"
        f"  web:\n    image: {ref}\n    replicas: 2\n"
        f"  other:\n    image: {ref}\n"
        f"  ok:\n    image: {IMAGE}\n    command: [sleep, '600']\n"
    )
    return path


def test_a_shared_missing_image_fails_each_service_once_in_its_own_name(
    tmp_path: Path, name: str
) -> None:
    ref = f"127.0.0.1:{free_port()}/{name}/app:1"  # nothing listens there: the pull fails
    up = envkit("-f", str(_stack(tmp_path, name, ref)), "up", "e", "--wait", "--timeout", "60")
    assert up.code == 1, up.err
    error = up.err[up.err.index("error[") :]
    # The pull's own error: once in the progress (against web, which pulled), once in the
    # error, never against other.
    pull = f"service web: cannot pull '{ref}'"
    assert up.err.count(pull) == 2, up.err
    assert error.count(pull) == 1, error
    assert f"{name}-e-web-1: failed: {pull}" in up.err
    # other fails in its own name, once, pointing at the failure it follows from.
    own = f"service other: image '{ref}' is not available: getting it failed for service web"
    assert f"{name}-e-other-1: failed: {own}" in up.err
    assert error.count(own) == 1
    assert error.index(pull) < error.index(own)  # the cause first
    assert "error[apply-failed]: 2 services failed:" in error
    assert error.count("hint: ") == 1 and "envkit bundle load FILE" in error
    assert "service web" not in error.replace(pull, "").replace("for service web", "")

"""The init-env warning on a real engine: a service with a named data volume that exists,
whose environment changes, is warned about at plan time (and at up, which still goes on);
``init_env:`` narrows the warning to the variables the image reads only on first start."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from envkit.model import LABEL

from .cleanup import remove_labelled
from .conftest import IMAGE
from .images_support import envkit

pytestmark = pytest.mark.engine


@pytest.fixture
def name(docker_client: Any) -> Iterator[str]:
    stack = f"t{uuid.uuid4().hex[:8]}"
    try:
        yield stack
    finally:
        remove_labelled(docker_client, f"{LABEL.STACK}={stack}")


STACK = """\
stack: {name}
environments: {{e: {{}}}}
services:
  db:
    image: {image}
    command: [sh, -c, "test -f /data/initialised || echo $PASSWORD > /data/initialised; sleep 600"]
    environment:
      PASSWORD: "{{{{ env.DB_PASSWORD | default('first') }}}}"
      MODE: "{{{{ env.DB_MODE | default('a') }}}}"
{marker}    volumes: [data:/data]
volumes:
  data: {{}}
"""


def _write(tmp_path: Path, name: str, marker: str = "") -> str:
    path = tmp_path / "envkit.yaml"
    path.write_text(STACK.format(name=name, image=IMAGE, marker=marker))
    return str(path)


def test_an_env_change_over_an_existing_volume_is_warned_about(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, docker_client: Any
) -> None:
    path = _write(tmp_path, name)
    first = envkit("-f", path, "up", "e")
    assert first.code == 0, first.err
    assert "warning[" not in first.err  # the volume is new: the variables will be read

    monkeypatch.setenv("DB_PASSWORD", "second")
    planned = envkit("-f", path, "plan", "e")
    assert planned.code == 0, planned.err
    warning = (
        f"warning[init-env-changed]: service db: environment PASSWORD changes, but its "
        f"volume {name}-e_data already exists"
    )
    assert warning in planned.out, planned.out
    assert "init_env" in planned.out  # the hint: how to narrow it
    assert "second" not in planned.out.split("warning[", 1)[1]  # no value in the warning

    up = envkit("-f", path, "up", "e")
    assert up.code == 0, up.err  # a warning, not a stop: the container is recreated
    assert warning in up.err
    # ... and what the warning is about: the volume still holds the first value.
    (container,) = docker_client.containers.list(filters={"label": f"{LABEL.PROJECT}={name}-e"})
    code, out = container.exec_run(["cat", "/data/initialised"])
    assert (code, out.strip()) == (0, b"first")
    assert "warning[" not in envkit("-f", path, "plan", "e").out  # nothing changes now


def test_init_env_narrows_the_warning_to_the_marked_variables(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, name, marker="    init_env: [PASSWORD]\n")
    assert envkit("-f", path, "up", "e").code == 0
    monkeypatch.setenv("DB_MODE", "b")
    planned = envkit("-f", path, "plan", "e", "--json")
    assert planned.code == 0, planned.err
    assert json.loads(planned.out)["warnings"] == []  # MODE is not read once
    monkeypatch.setenv("DB_PASSWORD", "second")
    data = json.loads(envkit("-f", path, "plan", "e", "--json").out)
    (warning,) = data["warnings"]
    assert warning["code"] == "init-env-changed" and warning["service"] == "db"
    assert "environment PASSWORD changes" in warning["message"]
    assert "init_env" not in warning["hint"]

"""healthcheck.start_interval: read from the stack, printed by config, and sent only to an
engine that takes it (API 1.44+). The SDK's own request building runs for real; only the
HTTP call at the end is recorded instead of sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker
import pytest

from envkit.engine.docker_request import send_create, start_interval_ns
from envkit.stackfile import read, resolve

STACK = """\
services:
  db:
    image: busybox
    healthcheck:
      test: ["CMD", "true"]
      interval: 30s
      start_interval: 1500ms
"""


class RecordingClient(docker.APIClient):  # type: ignore[misc]
    """An APIClient whose create calls are recorded, not sent."""

    def __init__(self, version: str) -> None:
        super().__init__(base_url="unix:///nonexistent.sock", version=version)
        self.sent: list[tuple[dict[str, Any], str | None]] = []

    def create_container_from_config(
        self, config: dict[str, Any], name: str | None = None, platform: str | None = None
    ) -> dict[str, str]:
        self.sent.append((config, name))
        return {"Id": "x"}


def _spec(tmp_path: Path) -> Any:
    (tmp_path / "compose.yaml").write_text(STACK)
    doc = read(str(tmp_path / "compose.yaml"))
    return resolve(doc, "default").desired.service("db")


def test_it_is_read_into_the_model(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    assert spec.healthcheck.start_interval_s == 1.5
    assert spec.healthcheck.interval_s == 30.0


@pytest.mark.parametrize(("version", "sent"), [("1.44", 1_500_000_000), ("1.45", 1_500_000_000),
                                              ("1.41", None), ("1.43", None)])  # fmt: skip
def test_it_reaches_an_engine_that_takes_it_and_only_that(
    tmp_path: Path, version: str, sent: int | None
) -> None:
    spec = _spec(tmp_path)
    assert start_interval_ns(version, spec) == sent
    api = RecordingClient(version)
    request = {
        "image": "busybox",
        "name": "p-db-1",
        "labels": {"a": "b"},
        "healthcheck": {"test": ["CMD", "true"], "interval": 30_000_000_000},
        "host_config": api.create_host_config(),
    }
    send_create(api, spec, request)
    [(config, name)] = api.sent
    assert name == "p-db-1"
    assert config["Labels"] == {"a": "b"} and config["Image"] == "busybox"
    assert config["Healthcheck"].get("StartInterval") == sent
    assert config["Healthcheck"]["Interval"] == 30_000_000_000

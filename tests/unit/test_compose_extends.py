"""Compose's extends: a service built on another, in the same file or a file next to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from envkit.errors import StackError
from envkit.stackfile import read, resolve

IMAGE = "envkit-test/busybox:latest"

COMMON = f"""\
services:
  base:
    image: {IMAGE}
    environment: {{A: "1", B: "2"}}
    ports: ["80"]
    labels: {{rule: "Host(`{{{{ .Name }}}}`)"}}
    command: [sleep, "1"]
"""

COMPOSE = f"""\
services:
  local:
    image: {IMAGE}
    environment: [X=1]
  web:
    extends: {{service: base, file: common.yaml}}
    environment: {{B: "20"}}
    ports: ["127.0.0.1::443"]
    command: [sleep, "2"]
  worker:
    extends: web
    environment: {{C: "3"}}
"""


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "common.yaml").write_text(COMMON)
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    return path


def test_a_service_extends_a_base_in_another_file_and_in_this_one(files: Path) -> None:
    desired = resolve(read(files), "default", environ={}).desired
    services = {s.name: s for s in desired.services}
    web, worker = services["web"], services["worker"]
    assert dict(web.environment) == {"A": "1", "B": "20"}
    assert [(p.host_ip, p.target) for p in web.ports] == [("", 80), ("127.0.0.1", 443)]
    assert web.command == ("sleep", "2")  # replaced, not appended
    assert dict(web.labels) == {"rule": "Host(`{{ .Name }}`)"}  # the base file is Compose
    assert dict(worker.environment) == {"A": "1", "B": "20", "C": "3"}
    assert worker.image == IMAGE


def test_each_key_keeps_where_it_was_written(files: Path) -> None:
    doc = read(files)
    common = str(files.parent / "common.yaml")
    assert str(doc.origin(("services", "web", "image"))) == f"{common}:3:12"
    assert str(doc.origin(("services", "web", "command"))) == f"{files}:9:14"
    assert str(doc.origin(("services", "worker", "environment", "C"))) == f"{files}:12:22"
    assert "extends" not in doc.data["services"]["web"]


def test_an_error_in_the_base_points_into_its_file(files: Path) -> None:
    (files.parent / "common.yaml").write_text(COMMON.replace('["80"]', '["80x:80"]'))
    with pytest.raises(StackError) as caught:
        resolve(read(files), "default", environ={})
    origins = {str(d.origin) for d in caught.value.diagnostics}
    assert origins == {f"{files.parent / 'common.yaml'}:5:13"}


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (("extends: web", "extends: worker"), "extends-cycle"),
        (("extends: web", "extends: nope"), "unknown-service"),
        (("file: common.yaml", "file: ../common.yaml"), "extends-elsewhere"),
        (("file: common.yaml", "file: missing.yaml"), "unreadable"),
    ],
)
def test_extends_mistakes_are_located(files: Path, change: tuple[str, str], code: str) -> None:
    files.write_text(COMPOSE.replace(*change))
    with pytest.raises(StackError) as caught:
        read(files)
    assert code in [d.code for d in caught.value.diagnostics]

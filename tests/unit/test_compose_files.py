"""Several stack files: default lookup, Compose's override file, Compose's merge rules."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import pytest

from envkit.cli import main
from envkit.errors import StackError
from envkit.stackfile import read, resolve
from envkit.stackfile.pipeline import find_stack_files

BASE = """\
services:
  web:
    image: envkit-test/busybox:latest
    command: ["sleep", "1"]
    environment:
      - A=1
      - B=2
    labels: {team: core}
    ports: ["8080:80", "127.0.0.1:9090:90"]
    volumes: ["data:/data", "./conf:/etc/conf:ro"]
    depends_on: [db]
    cap_add: [NET_ADMIN]
  db:
    image: envkit-test/busybox:latest
volumes:
  data: {}
"""

OVERRIDE = """\
services:
  web:
    command: ["sleep", "2"]
    environment: {B: "20", C: "3"}
    labels: [tier=front]
    ports: ["8080:80", "8443:443"]
    volumes: ["other:/data"]
    depends_on: {cache: {condition: service_started}}
    cap_add: [NET_ADMIN, SYS_TIME]
  cache:
    image: envkit-test/busybox:latest
volumes:
  other: {}
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def two(tmp_path: Path) -> tuple[Path, Path]:
    base, over = tmp_path / "compose.yaml", tmp_path / "compose.override.yaml"
    base.write_text(BASE)
    over.write_text(OVERRIDE)
    return base, over


def test_files_merge_with_composes_rules(two: tuple[Path, Path]) -> None:
    doc = read([str(p) for p in two])
    web = doc.data["services"]["web"]
    assert web["command"] == ["sleep", "2"]  # replaced, not appended
    assert web["environment"] == ["A=1", "B=20", "C=3"]  # by name, list and mapping forms
    assert web["labels"] == ["team=core", "tier=front"]
    assert web["ports"] == ["8080:80", "127.0.0.1:9090:90", "8443:443"]  # unique
    assert web["volumes"] == ["other:/data", "./conf:/etc/conf:ro"]  # by target, in place
    assert web["depends_on"] == {"db": {}, "cache": {"condition": "service_started"}}
    assert web["cap_add"] == ["NET_ADMIN", "SYS_TIME"]
    assert set(doc.data["services"]) == {"web", "db", "cache"}
    assert set(doc.data["volumes"]) == {"data", "other"}


def test_every_merged_node_keeps_its_own_file_line_and_column(two: tuple[Path, Path]) -> None:
    base, over = (str(p) for p in two)
    doc = read([base, over])
    where = {
        ("services", "web", "command"): (over, 3, 14),
        ("services", "web", "environment", 0): (base, 6, 9),
        ("services", "web", "environment", 1): (over, 4, 22),
        ("services", "web", "environment", 2): (over, 4, 31),
        ("services", "web", "labels", 0): (base, 8, 20),
        ("services", "web", "ports", 1): (base, 9, 24),
        ("services", "web", "ports", 2): (over, 6, 24),
        ("services", "web", "volumes", 0): (over, 7, 15),
        ("services", "web", "volumes", 1): (base, 10, 29),
        ("services", "cache", "image"): (over, 11, 12),
        ("services", "db", "image"): (base, 14, 12),
    }
    got = {}
    for path in where:
        origin = doc.origin(path)
        assert origin is not None, path
        got[path] = (origin.file, origin.line, origin.col)
    assert got == where


def test_an_error_in_the_override_file_points_into_it(two: tuple[Path, Path]) -> None:
    base, over = two
    over.write_text(OVERRIDE.replace('"8443:443"', '"84x:443"'))
    with pytest.raises(StackError) as caught:
        resolve(read([str(base), str(over)]), "default", environ={})
    (problem,) = caught.value.diagnostics
    assert (problem.code, str(problem.origin)) == ("invalid-port", f"{over}:6:24")
    assert problem.path == ("services", "web", "ports", 2)


def test_a_compose_file_cannot_be_merged_with_an_envkit_file_after_it(
    two: tuple[Path, Path],
) -> None:
    base, over = two
    over.write_text("environments: {dev: {}}\n")
    with pytest.raises(StackError) as caught:
        read([str(base), str(over)])
    (problem,) = caught.value.diagnostics
    assert problem.code == "dialect-mismatch"
    assert str(problem.origin) == f"{over}:1:1"


def test_lookup_order_and_the_override_file(tmp_path: Path) -> None:
    assert find_stack_files(tmp_path) == []
    for name in ("docker-compose.yaml", "docker-compose.yml", "compose.yml", "compose.yaml"):
        (tmp_path / name).write_text(BASE)
        assert find_stack_files(tmp_path) == [str(tmp_path / name)]
    (tmp_path / "docker-compose.override.yml").write_text(OVERRIDE)
    assert find_stack_files(tmp_path) == [
        str(tmp_path / "compose.yaml"),
        str(tmp_path / "docker-compose.override.yml"),
    ]
    (tmp_path / "compose.override.yml").write_text(OVERRIDE)
    assert find_stack_files(tmp_path)[1] == str(tmp_path / "compose.override.yml")
    (tmp_path / "envkit.yaml").write_text("stack: s\nservices: {}\n")
    assert find_stack_files(tmp_path) == [str(tmp_path / "envkit.yaml")]  # no override


def test_a_directory_named_like_a_stack_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").mkdir()
    (tmp_path / "docker-compose.yml").write_text(BASE)
    assert find_stack_files(tmp_path) == [str(tmp_path / "docker-compose.yml")]


def test_cli_default_lookup_reads_compose_and_override_and_says_so_on_debug(
    two: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(two[0].parent)
    monkeypatch.delenv("ENVKIT_FILE", raising=False)
    code, out, err = run("--debug", "render", "--json")
    assert code == 0, err
    assert err == (
        f"debug: stack file (default lookup in {os.getcwd()}): "
        "compose.yaml + compose.override.yaml\n"
    )
    assert set(json.loads(out)["services"]) == {"web", "db", "cache"}
    assert run("validate") == (0, "compose.yaml + compose.override.yaml: valid (default)\n", "")


def test_cli_merges_several_f_files(two: tuple[Path, Path]) -> None:
    base, over = two
    code, out, err = run("-f", str(base), "-f", str(over), "render", "--json")
    assert code == 0, err
    assert json.loads(out)["services"]["web"]["command"] == ["sleep", "2"]


def test_cli_without_any_stack_file_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ENVKIT_FILE", raising=False)
    code, _, err = run("validate")
    assert code == 2
    assert "envkit.yaml does not exist" in err
    assert "else ./compose.yaml" in err


def test_merge_agrees_with_docker_compose_config(two: tuple[Path, Path]) -> None:
    """Differential: Debian's docker-compose 1.29.2 is the oracle for the merged model."""
    import yaml

    from envkit.stackfile.syntax import parse_port

    base, over = two
    oracle = subprocess.run(
        ["docker-compose", "-f", str(base), "-f", str(over), "config"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COMPOSE_PROJECT_NAME": "x"},
    )
    theirs = yaml.safe_load(oracle.stdout)["services"]
    ours = resolve(read([str(base), str(over)]), "default", environ={}).desired
    assert {s.name for s in ours.services} == set(theirs)
    web, their_web = next(s for s in ours.services if s.name == "web"), theirs["web"]
    assert dict(web.environment) == their_web["environment"]
    assert list(web.command or ()) == their_web["command"]
    assert dict(web.labels) == their_web["labels"]
    assert {d.service for d in web.depends_on} == set(their_web["depends_on"])
    assert list(web.cap_add) == their_web["cap_add"]
    assert sorted(m.target for m in web.mounts) == sorted(
        v.split(":")[1] for v in their_web["volumes"]
    )
    their_ports = [
        (p["published"], p["target"]) if isinstance(p, dict) else
        next((q.published, q.target) for q in parse_port(p))
        for p in their_web["ports"]
    ]  # fmt: skip
    assert sorted((p.published, p.target) for p in web.ports) == sorted(their_ports)

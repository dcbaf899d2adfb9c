"""`envkit config` through main(argv): secrets masked unless asked for, values as people
write them, every `$` doubled, and the printed file read back to the same specs."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
import yaml

from envkit.canonical import spec_hash
from envkit.cli import main
from envkit.stackfile.pipeline import read, resolve

STACK = """\
stack: shop
environments:
  dev:
    env_file: [.env]
services:
  db:
    image: envkit-test/busybox:latest
    environment:
      DB_PASSWORD: "{{ env.DB_PASSWORD }}"
      PRICE: "5$ a {{ '{{' }} day"
    command: [sh, -c, "echo $HOME"]
    ports: ["127.0.0.1:8080:80", "[::1]:6000:6000", "53/udp"]
    healthcheck: {test: [CMD, "true"], interval: 1m30s, timeout: 500ms, retries: 3}
    mem_limit: 64m
    shm_size: 1g
    stop_grace_period: 2s
    labels: {note: "cost $1"}
    secrets: [token]
    volumes: [data:/data, /anon, ./conf:/etc/conf:ro]
    depends_on: {cache: {condition: service_healthy}}
  cache:
    image: envkit-test/busybox:latest
    networks: {back: {aliases: [redis]}}
networks:
  back: {internal: true}
volumes:
  data: {labels: {team: shop}}
secrets:
  token: {file: ./token.txt}
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    (tmp_path / ".env").write_text("DB_PASSWORD=hunter2-secret\n")
    (tmp_path / "token.txt").write_text("t0ken\n")
    (tmp_path / "conf").mkdir()
    path = tmp_path / "envkit.yaml"
    path.write_text(STACK)
    return path


def test_secrets_are_masked_and_the_comment_says_so(stack: Path) -> None:
    code, out, err = run("-f", str(stack), "config", "dev")
    assert (code, err) == (0, "")
    assert "hunter2-secret" not in out and "t0ken" not in out
    assert out.splitlines()[0] == (
        "# envkit config: shop, environment dev; sensitive values are masked as (sensitive) "
        "(--show-secrets prints them)"
    )
    data = yaml.safe_load(out)
    assert data["services"]["db"]["environment"]["DB_PASSWORD"] == "(sensitive)"
    assert data["secrets"] == {"token": {"file": str(stack.parent / "token.txt")}}


def test_values_are_written_as_compose_users_write_them(stack: Path) -> None:
    code, out, _ = run("-f", str(stack), "config", "dev", "--show-secrets")
    assert code == 0
    assert "--show-secrets" in out.splitlines()[0]
    db = yaml.safe_load(out)["services"]["db"]
    assert db["environment"] == {"DB_PASSWORD": "hunter2-secret", "PRICE": "5$$ a {{ day"}
    assert db["command"] == ["sh", "-c", "echo $$HOME"]
    assert db["labels"] == {"note": "cost $$1"}
    assert db["healthcheck"] == {
        "test": ["CMD", "true"],
        "interval": "1m30s",
        "timeout": "500ms",
        "retries": 3,
    }
    assert db["ports"] == [
        "127.0.0.1:8080:80",
        "[::1]:6000:6000",
        "53/udp",
    ]
    assert db["deploy"] == {"resources": {"limits": {"memory": "64m"}}}
    assert (db["shm_size"], db["stop_grace_period"]) == ("1g", "2s")
    assert db["volumes"] == ["data:/data", "/anon", f"{stack.parent / 'conf'}:/etc/conf:ro"]
    assert db["secrets"] == [{"source": "token", "target": "/run/secrets/token"}]
    assert db["depends_on"] == {"cache": {"condition": "service_healthy"}}
    data = yaml.safe_load(out)
    assert data["services"]["cache"]["networks"] == {"back": {"aliases": ["redis"]}}
    assert data["networks"] == {"back": {"internal": True}}
    assert data["volumes"] == {"data": {"labels": {"team": "shop"}}}


def test_the_printed_file_reads_back_to_the_same_specs(stack: Path, tmp_path: Path) -> None:
    _, out, _ = run("-f", str(stack), "config", "dev", "--show-secrets")
    printed = tmp_path / "printed" / "compose.yaml"
    printed.parent.mkdir()
    printed.write_text(out)
    before = resolve(read(stack), "dev", environ={}).desired
    after = resolve(read(printed), "default", environ={}).desired
    assert after.stack == "printed" and after.environment == "default"
    for old, new in zip(before.services, after.services, strict=True):
        old, new = (dataclasses.replace(s, sensitive_env=frozenset()) for s in (old, new))
        assert new == old
        assert spec_hash(new) == spec_hash(old)
    assert (after.volumes, after.networks) == (before.volumes, before.networks)

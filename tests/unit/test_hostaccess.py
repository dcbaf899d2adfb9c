"""Host access: what plan shows and --strict refuses (issue: untrusted stacks in CI)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from envkit.cli import main
from envkit.stackfile.hostaccess import host_access
from envkit.stackfile.pipeline import read, resolve

HOSTILE = """\
stack: ha
environments: {dev: {}}
services:
  web:
    image: busybox
    ports: ["8080:80", "127.0.0.1:9090:90", "[::]:7070:70"]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - /etc:/host-etc:ro
      - ./data:/data
      - /srv/elsewhere:/x
      - ./link:/y
    privileged: true
    cap_add: [SYS_ADMIN, NET_BIND_SERVICE]
"""

TAME = """\
stack: tame
environments: {dev: {}}
services:
  web:
    image: busybox
    ports: ["127.0.0.1:8080:80", "127.0.0.1::81"]
    volumes: [./data:/data, cache:/cache]
    cap_add: [NET_BIND_SERVICE]
volumes: {cache: {}}
"""


def _stack(tmp_path: Path, text: str) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    if not (tmp_path / "link").is_symlink():
        os.symlink("/etc", tmp_path / "link")  # a link in the stack's folder, out of it
    path = tmp_path / "envkit.yaml"
    path.write_text(text)
    return path


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_every_kind_of_host_access_is_found(tmp_path: Path) -> None:
    desired = resolve(read(_stack(tmp_path, HOSTILE)), "dev", environ={}).desired
    found = [(a.code, a.path) for a in host_access(desired)]
    web = ("services", "web")
    assert found == [
        ("docker-socket", (*web, "volumes", 0)),
        ("host-bind", (*web, "volumes", 1)),
        ("outside-stack", (*web, "volumes", 3)),
        ("host-bind", (*web, "volumes", 4)),  # ./link -> /etc: the engine follows it
        ("privileged", (*web, "privileged")),
        ("powerful-capability", (*web, "cap_add")),
        ("public-port", (*web, "ports")),
    ]
    public = [a.what for a in host_access(desired) if a.code == "public-port"]
    assert public == ["publishes 7070/tcp, 8080/tcp on every interface (other machines reach it)"]


def test_a_tame_stack_has_no_host_access(tmp_path: Path) -> None:
    desired = resolve(read(_stack(tmp_path, TAME)), "dev", environ={}).desired
    assert host_access(desired) == []


def test_validate_strict_refuses_with_located_errors(tmp_path: Path) -> None:
    path = str(_stack(tmp_path, HOSTILE))
    assert _run("-f", path, "validate")[0] == 0
    code, _, err = _run("-f", path, "validate", "--strict")
    assert code == 2
    assert (
        f"{path}:8:9: error[strict-docker-socket]: services.web.volumes[0]: service 'web' " in err
    )
    assert "error[strict-privileged]: services.web.privileged:" in err
    assert "hint: --strict refuses host access" in err
    assert err.rstrip().endswith("7 errors")


def test_up_strict_refuses_before_touching_any_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(_stack(tmp_path, HOSTILE))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    code, _, err = _run("-f", path, "up", "dev", "--strict")
    assert code == 2
    assert "error[strict-docker-socket]" in err
    assert "nonexistent" not in err  # refused at resolve time, no engine contacted


def test_validate_strict_passes_a_tame_stack(tmp_path: Path) -> None:
    code, out, _ = _run("-f", str(_stack(tmp_path, TAME)), "validate", "--strict")
    assert code == 0 and "valid (dev)" in out


def test_network_mode_host_is_host_access(tmp_path: Path) -> None:
    text = "services:\n  web: {image: busybox, network_mode: host}\n  db: {image: busybox}\n"
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    found = host_access(resolve(read(path), "default", environ={}).desired)
    assert [(a.service, a.code, a.path) for a in found] == [
        ("web", "host-network", ("services", "web", "network_mode"))
    ]
    code, _, err = _run("-f", str(path), "validate", "--strict")
    assert code == 2
    assert "error[strict-host-network]: services.web.network_mode:" in err

"""envkit graph: the picture of an environment, pinned for an example stack."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from envkit.graph import dot, mermaid
from envkit.stackfile.pipeline import read, resolve

STACKS = Path(__file__).resolve().parents[2] / "stacks"

WEB_DEV = """\
flowchart LR
  subgraph net_web_dev["network web-dev"]
    svc_migrate["migrate<br/>envkit-test/busybox:latest"]
    svc_api["api<br/>envkit-test/busybox:latest"]
    svc_worker["worker<br/>envkit-test/busybox:latest"]
  end
  vol_state[("volume web-dev_state")]
  port_api_0(["127.0.0.1:8080/tcp"])
  svc_migrate -.->|"/data"| vol_state
  svc_api -->|"service_completed_successfully"| svc_migrate
  svc_api -.->|"/www:ro"| vol_state
  port_api_0 -->|"8000/tcp"| svc_api
  svc_worker -->|"service_healthy"| svc_api
"""


def test_mermaid_of_the_web_stack_is_pinned() -> None:
    desired = resolve(read(STACKS / "web.yaml"), "dev", environ={}).desired
    assert mermaid(desired) == WEB_DEV


def _secret_stack(tmp_path: Path) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(
        "stack: s\n"
        "vars: {api_token: tok-9f8e7d}\n"
        "environments: {dev: {}}\n"
        "services:\n"
        '  web: {image: "busybox:{{ api_token }}", replicas: 3, ports: ["80"]}\n'
        '  "db": {image: busybox, depends_on: [web]}\n'
    )
    return path


def test_secrets_never_reach_a_picture_and_odd_values_are_quoted(tmp_path: Path) -> None:
    desired = resolve(read(_secret_stack(tmp_path)), "dev", environ={}).desired
    for text in (mermaid(desired), dot(desired)):
        assert "tok-9f8e7d" not in text
        assert "(sensitive)" in text
        assert "(3 replicas)" in text
        assert "0.0.0.0:random/tcp" in text


def test_dot_output_is_valid_graphviz(tmp_path: Path) -> None:
    assert shutil.which("dot"), "graphviz is missing: run scripts/setup.sh"
    for path, env in ((STACKS / "web.yaml", "dev"), (_secret_stack(tmp_path), "dev")):
        desired = resolve(read(path), env, environ={}).desired
        done = subprocess.run(
            ["dot", "-Tsvg"], input=dot(desired), capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert "<svg" in done.stdout

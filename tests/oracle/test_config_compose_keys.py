"""``envkit config`` round trip of the Compose keys of issue 9, section 3, that
docker-compose 1.29.2 knows: uppercase names, mount modes and options, build options. The
printed file is accepted by ``docker-compose config`` and reads back to the same specs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from compose_oracle import docker_compose

from envkit.canonical import spec_hash
from envkit.cli.commands.config import compose_document
from envkit.stackfile.pipeline import read, resolve

COMPOSE = """\
services:
  Web:
    image: shop/web:1
    build:
      context: ./ctx
      target: app
      labels: [team=shop]
      network: host
      shm_size: 64m
      extra_hosts: ["myhost:10.1.2.3"]
      cache_from: [shop/web:cache]
    volumes:
      - Data:/data:nocopy
      - ./conf:/etc/conf:ro,z
      - ./conf:/etc/c2:rprivate
      - {type: volume, source: Data, target: /long, volume: {nocopy: true}}
      - {type: bind, source: ./conf, target: /c3, bind: {propagation: rslave}}
      - {type: tmpfs, target: /t, tmpfs: {size: 1048576}}
volumes:
  Data: {}
"""


def test_printed_compose_keys_are_accepted_and_read_back(tmp_path: Path) -> None:
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM scratch AS app\n")
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    original = resolve(read(tmp_path / "compose.yaml"), "default", environ={}).desired
    printed = yaml.safe_dump(compose_document(original), sort_keys=False)
    proc = subprocess.run(
        [docker_compose(), "-p", "roundtrip", "-f", "-", "config", "-q"],
        input=printed,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr + printed
    (tmp_path / "back").mkdir()
    (tmp_path / "back" / "compose.yaml").write_text(printed)
    back = resolve(read(tmp_path / "back" / "compose.yaml"), "default", environ={}).desired
    (before,), (after,) = original.services, back.services
    assert after == before
    assert spec_hash(after) == spec_hash(before)
    assert back.volumes == original.volumes

"""Helpers the API and plugin engine tests share: what remains of a project, removing a
whole stack by label, and waiting for a process or a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envkit.model import LABEL

from .cleanup import labelled_names, remove_labelled


def remove_stack(client: Any, name: str) -> None:
    """Everything labelled with the stack, whatever its environment or instance."""
    remove_labelled(client, f"{LABEL.STACK}={name}")


def remains(client: Any, project: str) -> list[str]:
    """Every container, network and volume of ``project`` still on the engine."""
    return labelled_names(client, f"{LABEL.PROJECT}={project}")


def gone(pid: int) -> bool:
    """The process has exited (a zombie nobody reaped yet counts as exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_until(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return bool(check())


WEB_STACK = """\
stack: {name}
environments:
  ci: {{ephemeral_ports: true}}
services:
  web:
    image: {image}
    command: [sh, -c, "echo {banner}; mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 8000 -h /www"]
    ports: ["127.0.0.1::8000"]
    healthcheck: {{test: [CMD, wget, -q, -O, /dev/null, "http://127.0.0.1:8000/"], interval: 1s, retries: 30}}
    volumes: ["data:/data"]
    init: true
    stop_grace_period: 1s
volumes:
  data: {{}}
"""


def web_stack(name: str, image: str, banner: str) -> str:
    """A one-service stack for instance tests: busybox httpd on a random 127.0.0.1 port
    (``ci`` has ephemeral_ports), healthy once it serves, printing ``banner`` first."""
    return WEB_STACK.format(name=name, image=image, banner=banner)

"""Helpers the API and plugin engine tests share: what remains of a project, removing a
whole stack by label, and waiting for a process or a condition."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from envkit.model import LABEL

from .cleanup import remove_labelled


def remove_stack(client: Any, name: str) -> None:
    """Everything labelled with the stack, whatever its environment or instance."""
    remove_labelled(client, f"{LABEL.STACK}={name}")


def remains(client: Any, project: str) -> list[str]:
    """Every container, network and volume of ``project`` still on the engine."""
    selector = {"label": f"{LABEL.PROJECT}={project}"}
    return (
        [c.name for c in client.containers.list(all=True, filters=selector)]
        + [n.name for n in client.networks.list(filters=selector)]
        + [v.name for v in client.volumes.list(filters=selector)]
    )


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

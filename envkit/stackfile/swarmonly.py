"""Which ``deploy`` keys only a Docker Swarm applies (one engine takes ``replicas``,
``resources.limits`` and ``restart_policy``'s ``condition`` and ``max_attempts``). Pure."""

from __future__ import annotations

from typing import Any

from envkit.errors import DocPath

__all__ = ["swarm_only_keys"]

_ONE_ENGINE = {
    "replicas": None,
    "resources": {"limits": None},
    "restart_policy": {"condition": None, "max_attempts": None},
}


def swarm_only_keys(value: Any, at: DocPath, allowed: Any = _ONE_ENGINE) -> list[DocPath]:
    """The paths of the ``deploy`` keys (under ``at``) that only a Swarm applies."""
    found: list[DocPath] = []
    if not isinstance(value, dict):
        return found
    for key, item in value.items():
        if isinstance(key, str) and key.startswith("x-"):
            continue
        if key not in allowed:
            found.append((*at, key))
        elif isinstance(allowed[key], dict):
            found += swarm_only_keys(item, (*at, key), allowed[key])
    return found

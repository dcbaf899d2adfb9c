"""The one place an engine is made from settings: ``engine_from_env()``.

The CLI, the Python API and the watchdog all call it, so where the engine is (DOCKER_HOST,
DOCKER_CONTEXT, DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, DOCKER_API_VERSION) is read one way.
``endpoint`` overrides the process environment's choice: an address (``unix:///...``,
``tcp://host:2376``, ``ssh://host``) or the name of a docker context, which is what an
environment's ``engine:`` setting will hand in. The docker SDK is imported on the first
engine call, not here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from envkit.engine.endpoint import EngineEndpoint, tls_from_env

if TYPE_CHECKING:
    from envkit.engine.base import Engine

__all__ = ["engine_from_env"]


def engine_from_env(
    environment: Mapping[str, str] | None = None,
    *,
    endpoint: EngineEndpoint | str | None = None,
) -> Engine:
    """The engine ``environment`` (default: the process environment) names, or the one
    ``endpoint`` names (an address or a docker context name; TLS settings still come from
    the environment). Connects on the first call, not here."""
    from envkit.engine.docker import DockerEngine

    env = os.environ if environment is None else environment
    if endpoint is None:
        return DockerEngine.from_env(env)
    if isinstance(endpoint, str):
        endpoint = _from_setting(endpoint, env)
    return DockerEngine(endpoint, version=env.get("DOCKER_API_VERSION"))


def _from_setting(value: str, env: Mapping[str, str]) -> EngineEndpoint:
    from envkit.engine.endpoint import context_endpoint, parse_endpoint

    if "://" in value or value.startswith("/"):
        return parse_endpoint(value, tls=tls_from_env(env), source="engine")
    return context_endpoint(env, value, tls_from_env(env))

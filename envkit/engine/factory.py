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

from envkit.engine.endpoint import EngineEndpoint, TlsSettings, tls_from_env
from envkit.model import EngineSetting

if TYPE_CHECKING:
    from envkit.engine.base import Engine

__all__ = ["endpoint_of", "engine_from_env"]


def engine_from_env(
    environment: Mapping[str, str] | None = None,
    *,
    endpoint: EngineEndpoint | EngineSetting | str | None = None,
) -> Engine:
    """The engine ``environment`` (default: the process environment) names, or the one
    ``endpoint`` names: an environment's ``engine:`` setting (its TLS files win), or an
    address or a docker context name (``--engine``; TLS settings then come from the
    environment). Connects on the first call, not here."""
    from envkit.engine.docker import DockerEngine

    env = os.environ if environment is None else environment
    if endpoint is None:
        return DockerEngine.from_env(env)
    return DockerEngine(endpoint_of(endpoint, env), version=env.get("DOCKER_API_VERSION"))


def endpoint_of(
    setting: EngineEndpoint | EngineSetting | str, environment: Mapping[str, str] | None = None
) -> EngineEndpoint:
    """The endpoint an ``engine:`` setting, an ``--engine`` value or an endpoint names."""
    env = os.environ if environment is None else environment
    if isinstance(setting, EngineEndpoint):
        return setting
    if isinstance(setting, str):
        return _from_setting(setting, env, source="--engine")
    if setting.context:
        return _from_setting(setting.context, env, source=setting.where)
    tls = (
        TlsSettings("", True, setting.tls_ca, setting.tls_cert, setting.tls_key)
        if setting.has_tls
        else tls_from_env(env)
    )
    from envkit.engine.endpoint import parse_endpoint

    return parse_endpoint(setting.address, tls=tls, source=setting.where)


def _from_setting(value: str, env: Mapping[str, str], *, source: str) -> EngineEndpoint:
    from envkit.engine.endpoint import context_endpoint, parse_endpoint

    if "://" in value or value.startswith("/"):
        return parse_endpoint(value, tls=tls_from_env(env), source=source)
    return context_endpoint(env, value, tls_from_env(env), source=source)

"""The Docker engine's list calls, read without the docker SDK where that is possible.

:class:`DockerLists` is a part of :class:`envkit.engine.docker.DockerEngine`: on a unix
socket it makes the four list calls of ``observe`` (and the label-filtered lists of ``ps``
and ``gc``) as raw GETs (:mod:`envkit.engine.unix_http`), with the SDK's own paths and
parameters, so a no-op ``up``, ``plan`` or ``ps`` never imports the SDK. Once the engine
has loaded the SDK for a change, or for a TCP/TLS/ssh engine, the SDK client serves them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from envkit.engine.docker_json import Json
from envkit.engine.endpoint import EngineEndpoint, Scheme
from envkit.engine.unix_http import UnixHttpClient

__all__ = ["DockerLists", "Filters"]

Filters = Mapping[str, list[str]]  # the engine's list filters, e.g. {"label": ["k=v"]}


class DockerLists:
    """``api``: the engine's SDK client (imports the SDK on first use); ``sdk_loaded``:
    whether it exists already."""

    def __init__(
        self,
        endpoint: EngineEndpoint,
        version: str,
        timeout_s: float,
        api: Callable[[], Any],
        sdk_loaded: Callable[[], bool],
    ) -> None:
        self._endpoint = endpoint
        self._version = version
        self._timeout_s = timeout_s
        self._api = api
        self._sdk_loaded = sdk_loaded
        self._raw: UnixHttpClient | None = None

    def reader(self) -> UnixHttpClient | None:
        """The SDK-free reader for a unix socket engine (None: use the SDK). Once the SDK
        is loaded for a change, its pooled connection serves the lists too."""
        if self._endpoint.scheme is not Scheme.UNIX or self._sdk_loaded():
            return None
        if self._raw is None:
            version = None if self._version == "auto" else self._version
            self._raw = UnixHttpClient(
                self._endpoint.path, version=version, timeout_s=self._timeout_s
            )
        return self._raw

    def containers(self, filters: Filters | None) -> list[Json]:
        reader = self.reader()
        if reader is None:
            result: list[Json] = self._api().containers(all=True, filters=filters)
            return result
        params = {"limit": "-1", "all": "1", "size": "0", "trunc_cmd": "0"}
        if filters:
            params["filters"] = json.dumps(filters)
        return list(reader.get_json("/containers/json", params))

    def networks(self, filters: Filters | None) -> list[Json]:
        reader = self.reader()
        if reader is None:
            result: list[Json] = self._api().networks(filters=filters)
            return result
        # The SDK always sends the filters, empty ones as {}.
        return list(reader.get_json("/networks", {"filters": json.dumps(filters or {})}))

    def volumes(self, filters: Filters | None) -> list[Json]:
        reader = self.reader()
        if reader is None:
            answer = self._api().volumes(filters=filters)
        else:
            params = {"filters": json.dumps(filters)} if filters else None
            answer = reader.get_json("/volumes", params)
        return list(answer.get("Volumes") or [])

    def images(self) -> list[Json]:
        reader = self.reader()
        if reader is None:
            result: list[Json] = self._api().images()
            return result
        return list(reader.get_json("/images/json", {"only_ids": "0", "all": "0"}))

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
            self._raw = None

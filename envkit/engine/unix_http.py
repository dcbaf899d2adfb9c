"""JSON requests to a Docker engine on its unix socket, without the docker SDK.

Importing the SDK (with requests, urllib3, paramiko) costs more than everything else a
no-op ``up``, ``plan`` or ``ps`` does; the lists those need are four GETs. This client
makes them with :mod:`http.client` over ``AF_UNIX``, on one kept-alive connection, and
:class:`envkit.engine.docker.DockerEngine` uses it for its list calls on a local socket.
The SDK is imported only when something must change (create, start, stop, remove, pull),
and always for TCP/TLS/ssh engines. :class:`envkit.engine.swarm.SwarmEngine` also sends its
writes (service, network, secret and config create/update/remove: JSON in, JSON out) here.

The paths and query parameters are the ones the SDK sends for the same calls, unversioned
(the engine's own API version, which is what the SDK's ``version="auto"`` negotiates) unless
a version is pinned, so both paths read the same JSON.
"""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

__all__ = ["EngineHttpError", "UnixHttpClient"]

# The engine's answer to a list call is a few KB per object; bound what one answer may hold
# so that a wrong socket (or a broken engine) cannot make us read for ever.
_MAX_BODY = 1 << 30


@dataclass(frozen=True, slots=True)
class _Status:
    status_code: int


class EngineHttpError(Exception):
    """The engine answered with an error status. Shaped like the SDK's ``APIError``
    (``response.status_code``, ``explanation``) so that one translation serves both."""

    def __init__(self, status: int, explanation: str) -> None:
        super().__init__(f"{status}: {explanation}")
        self.response = _Status(status)
        self.explanation = explanation


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout_s: float) -> None:
        super().__init__("localhost", timeout=timeout_s)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self._path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class UnixHttpClient:
    """GET JSON from the engine at the unix socket ``path``; ``version``: an API version
    to pin ("1.41"), or None for the engine's own."""

    def __init__(self, path: str, *, version: str | None = None, timeout_s: float = 120.0):
        self._path = path
        self._prefix = f"/v{quote(version)}" if version else ""
        self._timeout_s = timeout_s
        self._conn: _UnixConnection | None = None

    def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        return self.request_json("GET", path, params)

    def request_json(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        """``method`` on ``path`` with ``body`` as JSON (None: no body); the answer's JSON,
        or None for an empty answer (204). A kept-alive connection that the engine closed
        meanwhile is reopened once: for GET and DELETE whenever that shows, for a POST only
        when it shows while sending (the engine cannot have acted on it)."""
        url = self._prefix + path + ("?" + urlencode(params) if params else "")
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            conn = self._conn or _UnixConnection(self._path, self._timeout_s)
            self._conn = conn
            sent = False
            try:
                conn.request(method, url, body=payload, headers=headers)
                sent = True
                response = conn.getresponse()
                body_bytes = response.read(_MAX_BODY + 1)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the engine closed meanwhile: one fresh try.
                self.close()
                if attempt == 2 or (sent and method == "POST"):
                    raise
                continue
            except BaseException:
                self.close()
                raise
            if len(body_bytes) > _MAX_BODY:
                self.close()
                raise EngineHttpError(0, f"the engine's answer to {method} {path} is too large")
            if response.will_close:
                self.close()
            if response.status >= 400:
                raise EngineHttpError(response.status, _explanation(body_bytes, response.reason))
            return json.loads(body_bytes) if body_bytes.strip() else None
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _explanation(body: bytes, reason: str) -> str:
    try:
        message = json.loads(body).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else (body.decode("utf-8", "replace").strip() or reason)

"""Where an engine is: one value read from DOCKER_HOST and friends (or, later, from an
environment's ``engine:`` setting), so that the lock key, error messages and the address
to connect to a published port all come from the same place.

Pure apart from :func:`endpoint_from_env` reading a docker context's metadata file when
DOCKER_CONTEXT names one. Never imports the docker SDK.

The *identity* of an endpoint names the engine, not the way to it: the default socket,
``unix:///var/run/docker.sock`` and ``unix://var/run/docker.sock`` are one engine; a TCP
engine is ``tcp://host:port`` with its default port filled in. It never carries a user name
or password, so it can go into file names and messages.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit

from envkit.errors import UsageError
from envkit.model import is_wildcard

__all__ = [
    "DEFAULT_SOCKET",
    "EngineEndpoint",
    "Scheme",
    "TlsSettings",
    "context_endpoint",
    "endpoint_from_env",
    "parse_endpoint",
    "tls_from_env",
]

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_CONTEXT_LIMIT = 1 << 20  # a context's meta.json is a few hundred bytes


class Scheme(Enum):
    UNIX = "unix"
    TCP = "tcp"
    SSH = "ssh"
    NPIPE = "npipe"


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """DOCKER_CERT_PATH / DOCKER_TLS_VERIFY, as the docker CLI reads them, or the files an
    environment's ``engine: {tls: {ca, cert, key}}`` names (which win over ``cert_dir``)."""

    cert_dir: str  # holds ca.pem, cert.pem, key.pem
    verify: bool
    ca: str = ""
    cert: str = ""
    key: str = ""

    @property
    def ca_file(self) -> str:
        return self.ca or os.path.join(self.cert_dir, "ca.pem")

    @property
    def cert_file(self) -> str:
        return self.cert or os.path.join(self.cert_dir, "cert.pem")

    @property
    def key_file(self) -> str:
        return self.key or os.path.join(self.cert_dir, "key.pem")


@dataclass(frozen=True, slots=True)
class EngineEndpoint:
    """A parsed engine address. ``url`` is what the SDK connects to (it may carry an ssh
    user); ``identity`` and ``display`` never carry one."""

    scheme: Scheme
    url: str
    host: str = ""  # TCP/SSH: the host name or IP (no brackets)
    port: int | None = None  # TCP/SSH: the port, default filled in
    path: str = ""  # UNIX/NPIPE: the socket or pipe path
    tls: TlsSettings | None = None
    source: str = ""  # where it came from, for messages: "DOCKER_HOST", "context ci"

    @property
    def identity(self) -> str:
        """A stable name for the engine: equal for every spelling of one endpoint."""
        if self.scheme is Scheme.UNIX:
            return f"unix://{os.path.realpath(self.path)}"
        if self.scheme is Scheme.NPIPE:
            return f"npipe://{self.path.lower()}"
        host = _canonical_host(self.host)
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme.value}://{host}:{self.port}"

    @property
    def is_local(self) -> bool:
        """Whether the engine runs on this host (so a published port is bound here)."""
        return self.scheme in (Scheme.UNIX, Scheme.NPIPE) or (
            self.scheme is Scheme.TCP and _canonical_host(self.host) in _LOOPBACK
        )

    @property
    def display(self) -> str:
        """Where the engine is looked for, as a person would name it (no user name)."""
        shown = self.url if self.scheme is not Scheme.SSH else self.identity
        if self.source == "DOCKER_HOST":
            return f"DOCKER_HOST={shown}"
        if self.source:
            return f"{shown} ({self.source})"
        return f"the socket {self.path}" if self.scheme is Scheme.UNIX else shown

    def connect_host(self, host_ip: str = "") -> str:
        """The address to reach a port the engine published on ``host_ip``: a specific
        address as it is; a wildcard one on this host's loopback (``::`` -> ``::1``), or
        the engine's host when it is remote."""
        if not is_wildcard(host_ip):
            return host_ip
        if not self.is_local:
            return self.host
        return "::1" if host_ip == "::" else "127.0.0.1"


def _canonical_host(host: str) -> str:
    """One spelling of a host: an IP address compressed (``0:0::1`` -> ``::1``, an IPv4-mapped
    IPv6 address as IPv4), a name in lower case without a trailing dot."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host.lower().rstrip(".")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def parse_endpoint(
    value: str, *, tls: TlsSettings | None = None, source: str = ""
) -> EngineEndpoint:
    """``unix:///run/docker.sock``, ``/run/docker.sock``, ``tcp://host:2376``,
    ``https://host``, ``ssh://user@host``, ``npipe:////./pipe/docker_engine``."""
    text = value.strip()
    if text.startswith("/"):
        text = "unix://" + text
    scheme_text, sep, rest = text.partition("://")
    scheme_text = scheme_text.lower() if sep else ""
    if scheme_text == "unix":
        path = "/" + rest.lstrip("/")
        return EngineEndpoint(Scheme.UNIX, f"unix://{path}", path=path, source=source)
    if scheme_text == "npipe":
        return EngineEndpoint(Scheme.NPIPE, text, path=rest, source=source)
    if scheme_text in ("tcp", "http", "https", "ssh"):
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError as exc:
            raise _bad(value, source, str(exc)) from exc
        host = parts.hostname or ""
        if not host:
            raise _bad(value, source, "it names no host")
        if scheme_text == "ssh":
            # The SDK uses only the user of ssh://USER:PASSWORD@HOST; the password goes here,
            # so that no message or exception text can ever carry it.
            user = f"{parts.username}@" if parts.username else ""
            hostport = f"[{host}]" if ":" in host else host
            url = f"ssh://{user}{hostport}" + (f":{port}" if port else "")
            return EngineEndpoint(
                Scheme.SSH, url, host=host, port=port or 22, tls=None, source=source
            )
        if scheme_text == "https" and tls is None:
            tls = TlsSettings(str(Path("~/.docker").expanduser()), verify=True)
        default = 2376 if tls is not None else 2375
        hostport = f"[{host}]" if ":" in host else host
        url = f"tcp://{hostport}:{port or default}"
        return EngineEndpoint(
            Scheme.TCP, url, host=host, port=port or default, tls=tls, source=source
        )
    raise _bad(value, source, "the scheme must be unix://, tcp://, ssh:// or npipe://")


def _bad(value: str, source: str, why: str) -> UsageError:
    # The value may carry an ssh user: say which setting is wrong, not its whole text.
    shown = value.split("@", 1)[-1] if "@" in value else value
    return UsageError(
        f"{source or 'the engine address'} {shown!r} is not an engine address: {why}",
        hint="write e.g. unix:///var/run/docker.sock, tcp://HOST:2376 or ssh://HOST",
        code="invalid-engine",
    )


def tls_from_env(env: Mapping[str, str]) -> TlsSettings | None:
    """The docker CLI's rule: DOCKER_TLS_VERIFY set (not empty) or DOCKER_CERT_PATH set
    turns TLS on; the certificates default to ~/.docker."""
    cert_path = env.get("DOCKER_CERT_PATH") or ""
    verify_text = env.get("DOCKER_TLS_VERIFY")
    verify = verify_text is not None and verify_text != ""
    if not (cert_path or verify):
        return None
    home = env.get("HOME") or str(Path.home())
    return TlsSettings(cert_path or os.path.join(home, ".docker"), verify)


def endpoint_from_env(environment: Mapping[str, str] | None = None) -> EngineEndpoint:
    """The engine the docker CLI would use: DOCKER_HOST, else the endpoint of the context
    DOCKER_CONTEXT names, else the default socket; DOCKER_TLS_VERIFY/DOCKER_CERT_PATH add
    TLS."""
    env = os.environ if environment is None else environment
    tls = tls_from_env(env)
    host = env.get("DOCKER_HOST")
    if host:
        return parse_endpoint(host, tls=tls, source="DOCKER_HOST")
    context = env.get("DOCKER_CONTEXT")
    if context:
        return context_endpoint(env, context, tls)
    return parse_endpoint(DEFAULT_SOCKET, tls=tls)


def context_endpoint(
    env: Mapping[str, str], context: str, tls: TlsSettings | None, *, source: str = ""
) -> EngineEndpoint:
    """The docker endpoint of a ``docker context`` (its meta.json under
    ``$DOCKER_CONFIG/contexts/meta/<sha256 of the name>/``, and its TLS files, when it has
    any, under ``contexts/tls/<sha256>/docker/``); ``default`` is the socket."""
    if context == "default":
        return parse_endpoint(DEFAULT_SOCKET, tls=tls)
    config = env.get("DOCKER_CONFIG") or os.path.join(
        env.get("HOME") or str(Path.home()), ".docker"
    )
    key = hashlib.sha256(context.encode()).hexdigest()
    meta = Path(config) / "contexts" / "meta" / key / "meta.json"
    source = f"{source}: context {context}" if source else f"DOCKER_CONTEXT={context}"
    try:
        with meta.open("rb") as f:
            data = json.loads(f.read(_CONTEXT_LIMIT))
        docker_endpoint = data["Endpoints"]["docker"]
        host = docker_endpoint["Host"]
        if not isinstance(host, str):
            raise TypeError(host)
        tls_dir = Path(config) / "contexts" / "tls" / key / "docker"
        if tls_dir.is_dir():
            tls = TlsSettings(str(tls_dir), verify=not docker_endpoint.get("SkipTLSVerify"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"{source}: cannot read the context's engine address from {meta} ({exc})",
            hint="list the contexts with `docker context ls`, or set DOCKER_HOST instead",
            code="invalid-engine",
        ) from exc
    return parse_endpoint(host, tls=tls, source=source)

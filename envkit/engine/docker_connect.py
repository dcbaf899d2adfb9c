"""Reaching an engine that is not the local socket: the SDK client for an endpoint, and what
a failed TLS or ssh connection means, said plainly. Part of the Docker adapter
(:mod:`envkit.engine.docker` calls both from its one boundary); the SDK is imported in
:func:`make_client`, on the first engine call.

Two things the SDK does not do by itself:

- **The process environment must not choose the CA.** requests lets ``REQUESTS_CA_BUNDLE``
  or ``CURL_CA_BUNDLE`` replace the CA that the SDK's ``TLSConfig`` sets, so on a machine
  that sets them (many do) the right certificates fail with CERTIFICATE_VERIFY_FAILED; the
  client is built with ``trust_env`` off (which also keeps ``HTTPS_PROXY`` away from the
  engine connection, as for a unix socket).
- **Errors name the environment and the endpoint, never a credential.** Paramiko, ssl and
  urllib3 failures are recognised by their class names (no import of paramiko here), and
  the message is ours: no exception text that could carry a URL with a user or password.
"""

from __future__ import annotations

import logging
from typing import Any

from envkit._lazy import defer_import
from envkit.engine.endpoint import EngineEndpoint, Scheme
from envkit.errors import EngineUnavailable, EnvkitError

__all__ = ["make_client", "remote_failure", "unreachable_hint"]

_CLIENT_CLASS: Any = None


def _client_class() -> Any:
    """``docker.APIClient`` with ``trust_env`` pinned off. A property, not an assignment
    after construction: ``version="auto"`` already talks to the engine in ``__init__``."""
    global _CLIENT_CLASS
    if _CLIENT_CLASS is None:
        # paramiko is the SDK's ssh transport and half its import time; an ssh:// endpoint
        # imports it on first use (see defer_import), a local socket or tcp never does.
        defer_import("paramiko")
        # requests imports charset_normalizer (~25 ms: unicodedata, codec tables) to guess
        # the encoding of a response that names none, and reads only its __version__ at
        # import; the engine's answers are JSON, which requests decodes without it.
        defer_import("charset_normalizer", version_file="version.py")
        from docker import APIClient

        class _Client(APIClient):
            @property
            def trust_env(self) -> bool:
                return False

            @trust_env.setter
            def trust_env(self, value: bool) -> None:
                pass  # requests.Session.__init__ sets True; keep it off

        _CLIENT_CLASS = _Client
    return _CLIENT_CLASS


def make_client(endpoint: EngineEndpoint, version: str, timeout_s: float) -> Any:
    """The SDK's low-level client for ``endpoint`` (TLS files as it names them; ssh through
    the SDK's paramiko transport, which reads ~/.ssh/config and refuses unknown hosts)."""
    tls: Any = None
    if endpoint.scheme is Scheme.SSH:
        # paramiko logs a failed handshake with its traceback; with no handler configured,
        # Python's last-resort handler would print it on stderr. The error is ours to say.
        logging.getLogger("paramiko").addHandler(logging.NullHandler())
    if endpoint.tls is not None:
        from docker.tls import TLSConfig

        settings = endpoint.tls
        tls = TLSConfig(
            client_cert=(settings.cert_file, settings.key_file),
            ca_cert=settings.ca_file,
            verify=settings.verify,
        )
    return _client_class()(
        base_url=endpoint.url,
        version=version,
        timeout=int(timeout_s),
        max_pool_size=32,
        tls=tls,
    )


def unreachable_hint(endpoint: EngineEndpoint) -> str:
    where = f" of {endpoint.source}" if endpoint.source.startswith("environment") else ""
    return (
        f"check that dockerd runs on {endpoint.host} and listens on port {endpoint.port}, and "
        f"that this machine can reach it (network, firewall); or correct the engine "
        f"setting{where.split(' at ')[0]}"
    )


def _kinds(chain: list[BaseException]) -> set[str]:
    return {cls.__name__ for e in chain for cls in type(e).__mro__}


def remote_failure(
    endpoint: EngineEndpoint, chain: list[BaseException], names: set[str]
) -> EnvkitError | None:
    """An envkit error for a failed ssh or TLS connection, or None when it is not one."""
    kinds = _kinds(chain)
    if endpoint.scheme is Scheme.SSH:
        return _ssh_failure(endpoint, chain, kinds)
    if endpoint.scheme is Scheme.TCP and endpoint.tls is not None:
        return _tls_failure(endpoint, chain, kinds)
    return None


def _fail(endpoint: EngineEndpoint, what: str, hint: str, code: str) -> EngineUnavailable:
    return EngineUnavailable(
        f"cannot connect to the Docker engine at {endpoint.display}: {what}", hint=hint, code=code
    )


def _ssh_failure(
    endpoint: EngineEndpoint, chain: list[BaseException], kinds: set[str]
) -> EnvkitError | None:
    host = endpoint.host
    if "BadHostKeyException" in kinds:
        return _fail(
            endpoint,
            f"the ssh host key of {host} is not the one in known_hosts",
            "someone may be intercepting the connection; if the server's key was changed on "
            f"purpose, remove the old one (`ssh-keygen -R {host}`) and check the new one with "
            f"`ssh {host}` before you accept it",
            "engine-ssh-host-key",
        )
    if "PasswordRequiredException" in kinds:
        return _fail(
            endpoint,
            "the ssh key is protected by a passphrase",
            "load it into ssh-agent (`ssh-add KEY`) and run envkit with SSH_AUTH_SOCK set",
            "engine-ssh-auth",
        )
    if "AuthenticationException" in kinds:
        return _fail(
            endpoint,
            f"{host} refused the ssh login (authentication failed)",
            "check the user in the address (ssh://USER@HOST) and the key: envkit uses "
            "ssh-agent and the IdentityFile of ~/.ssh/config, like `ssh USER@HOST`",
            "engine-ssh-auth",
        )
    if "NoValidConnectionsError" in kinds or (
        "SSHException" not in kinds and kinds & {"OSError", "TimeoutError"}
    ):
        return _fail(
            endpoint,
            f"no ssh server answers on {host} port {endpoint.port}",
            unreachable_hint(endpoint).replace("dockerd runs", "sshd runs"),
            "engine-unavailable",
        )
    ssh = [e for e in chain if "SSHException" in _kinds([e])]
    if ssh and "known_hosts" in str(ssh[0]):
        return _fail(
            endpoint,
            f"{host} is not in ~/.ssh/known_hosts, so its identity cannot be checked",
            f"connect once with `ssh {host}`, compare the key fingerprint with the server's, "
            "and accept it; envkit never accepts an unknown host key by itself",
            "engine-ssh-host-key",
        )
    if ssh:
        return _fail(
            endpoint,
            f"the ssh connection to {host} failed ({type(ssh[0]).__name__})",
            f"try `ssh {host} docker version` to see why",
            "engine-ssh-failed",
        )
    return None


def _tls_failure(
    endpoint: EngineEndpoint, chain: list[BaseException], kinds: set[str]
) -> EnvkitError | None:
    if "SSLError" not in kinds and "SSLEOFError" not in kinds:
        return None
    text = " ".join(str(e) for e in chain if "SSLError" in _kinds([e]))
    reason = {str(getattr(e, "reason", "") or "") for e in chain}
    tls = endpoint.tls
    ca = tls.ca_file if tls is not None else "ca.pem"
    if "SSLCertVerificationError" in kinds or "CERTIFICATE_VERIFY_FAILED" in text:
        if "mismatch" in text.lower():
            return _fail(
                endpoint,
                f"the engine's TLS certificate is not made out for {endpoint.host}",
                "reach the engine by a name or address its certificate lists (its "
                "subjectAltName), or have its certificate reissued with this one",
                "engine-tls-untrusted",
            )
        return _fail(
            endpoint,
            "the engine's TLS certificate is not signed by the CA envkit was given",
            f"tls.ca ({ca}) must be the CA that signed the engine's server certificate; "
            "check that the files belong to this engine",
            "engine-tls-untrusted",
        )
    if reason & {"KEY_VALUES_MISMATCH", "PEM_LIB", "NO_START_LINE"} or "PEM lib" in text:
        return _fail(
            endpoint,
            "the TLS client certificate and key cannot be used (not PEM, or not a pair)",
            "tls.cert and tls.key must be the PEM certificate and key made for this client",
            "engine-tls-files",
        )
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return _fail(
            endpoint,
            "the engine does not speak TLS on this port",
            "use the port where dockerd listens with --tlsverify (usually 2376), or drop tls",
            "engine-tls-refused",
        )
    return _fail(
        endpoint,
        "the engine refused this client's TLS certificate",
        "tls.cert and tls.key must be a client certificate signed by the CA the engine "
        "trusts (its --tlscacert)",
        "engine-tls-refused",
    )

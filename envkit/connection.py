"""Connection URLs for the services of an instance (``Environment.url``).

A :class:`ConnectionUrl` is a ``str`` (hand it to any driver) whose ``repr`` masks the
password, so a failing assertion, a log line of ``%r`` or a debugger never shows it.
User and password are percent-encoded, so a password with ``@``, ``:`` or ``/`` cannot
change where the URL points.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["ConnectionUrl", "connection_url"]


class ConnectionUrl(str):
    """A URL string; ``repr()`` shows it with the password as ``***``."""

    __slots__ = ("masked",)
    masked: str

    def __new__(cls, url: str, masked: str) -> ConnectionUrl:
        self = super().__new__(cls, url)
        self.masked = masked
        return self

    def __repr__(self) -> str:
        return repr(self.masked)


def connection_url(
    scheme: str,
    host: str,
    port: int,
    *,
    user: str | None = None,
    password: str | None = None,
    path: str = "",
) -> ConnectionUrl:
    """``scheme://[user[:password]@]host:port[path]``; an IPv6 host goes in brackets; a
    ``path`` without a leading ``/`` gets one (``"shop"`` -> ``/shop``, a database)."""
    host = f"[{host}]" if ":" in host else host
    if path and not path.startswith("/"):
        path = "/" + path

    def build(secret: str | None) -> str:
        auth = ""
        if user is not None:
            auth = quote(user, safe="")
            if secret is not None:
                auth += ":" + secret
            auth += "@"
        return f"{scheme}://{auth}{host}:{port}{path}"

    clear = build(quote(password, safe="") if password is not None else None)
    return ConnectionUrl(clear, build("***" if password is not None else None))

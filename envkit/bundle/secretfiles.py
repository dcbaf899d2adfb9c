"""Which files a bundle treats as secrets (their content is left out unless
``--include-secrets``).

A file under a read-only bind mount is a secret when:

* one component of its path relative to the stack's folder *looks secret*: split into
  words at every character that is not a letter or a digit, a word is one of
  :data:`SECRET_WORDS` (``secrets/db``, ``db_password.txt``, ``tls/server.key``,
  ``api-token``, ``id_rsa``), or the name ends in one of :data:`SECRET_SUFFIXES`
  (``.pem``, ``.p12``, ...); or
* the stack file names it in the top-level list ``x-envkit-secret-files`` (glob patterns
  relative to the stack's folder, ``*`` not crossing ``/``, a folder pattern covering
  everything under it).

Env files are always secrets (their values are blanked, names kept). Compose ``secrets:``
files plug in through :func:`declared_secret_files`, as :attr:`SecretMarkers.files` (exact
paths, each with its reason, e.g. ``"secrets.db_password (Compose secrets:)"``): every one
is a secret, whatever its name.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from envkit.errors import StackError

if TYPE_CHECKING:
    from envkit.stackfile.rendered import Document

__all__ = [
    "SECRET_FILES_KEY",
    "SECRET_SUFFIXES",
    "SECRET_WORDS",
    "SecretMarkers",
    "declared_secret_files",
]

SECRET_FILES_KEY = "x-envkit-secret-files"
SECRET_WORDS = frozenset(
    {
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "token",
        "tokens",
        "key",
        "keys",
        "apikey",
        "privkey",
        "credential",
        "credentials",
        "private",
        "rsa",
        "dsa",
        "ecdsa",
        "ed25519",
        "htpasswd",
        "netrc",
        "pgpass",
    }
)
SECRET_SUFFIXES = (".pem", ".p12", ".pfx", ".jks", ".keystore", ".kdbx", ".gpg", ".asc")
_WORD = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True, slots=True)
class SecretMarkers:
    """What marks a file as secret: the name rules above, declared patterns, and exact
    files with the reason each is secret (the hook for Compose ``secrets:`` sources)."""

    patterns: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()  # (path relative to the stack's folder, why)

    def reason(self, relative: str) -> str | None:
        """Why the file at ``relative`` (POSIX, relative to the stack's folder) is a secret,
        or None when it is not."""
        for path, why in self.files:
            if relative == path or relative.startswith(path.rstrip("/") + "/"):
                return why
        for pattern in self.patterns:
            if _matches(pattern, relative):
                return f"named by {SECRET_FILES_KEY} ({pattern!r})"
        for part in relative.split("/"):
            lower = part.lower()
            if any(w in SECRET_WORDS for w in _WORD.split(lower) if w):
                return f"its path looks secret ({part!r})"
            if lower.endswith(SECRET_SUFFIXES):
                return f"its name looks secret ({part!r})"
        return None


def _matches(pattern: str, relative: str) -> bool:
    pattern = pattern.strip("/").removeprefix("./")
    parts = relative.split("/")
    # the file itself, or one of the folders it is in
    for end in range(len(parts), 0, -1):
        if fnmatch.fnmatchcase("/".join(parts[:end]), pattern) and _same_depth(
            pattern, parts[:end]
        ):
            return True
    return False


def _same_depth(pattern: str, parts: Sequence[str]) -> bool:
    """``*`` does not cross ``/`` (fnmatch's does): the depths must agree."""
    return pattern.count("/") == len(parts) - 1


def declared_secret_files(document: Document | None) -> SecretMarkers:
    """The markers a stack file declares (``x-envkit-secret-files``). Compose ``secrets:``
    files, once the dialect reads them, are added here as exact patterns."""
    raw = document.data.get(SECRET_FILES_KEY) if document is not None else None
    if raw is None or document is None:
        return SecretMarkers()
    if not isinstance(raw, list) or not all(isinstance(p, str) and p.strip() for p in raw):
        raise StackError.single(
            "invalid-secret-files",
            "must be a list of glob patterns (strings), relative to the stack's folder",
            path=(SECRET_FILES_KEY,),
            origin=document.origin((SECRET_FILES_KEY,)),
            hint="for example x-envkit-secret-files: [conf/ssl/*.crt, conf/users.db]",
        )
    return SecretMarkers(tuple(raw))

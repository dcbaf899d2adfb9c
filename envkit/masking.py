"""Sensitive values in canonical specs and labels: the key, and the keyed tokens that stand
for secrets there (an HMAC-SHA256 under a key that is not on the engine, so a label's token
cannot be checked against guessed values). Pure: the key is read by ``envkit.secretkey``."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "NO_SECRETS",
    "SECRET_KEY_FIELD",
    "SECRET_TOKEN",
    "Masker",
    "MissingSecretKey",
    "SecretKey",
    "Secrets",
]


@dataclass(frozen=True, slots=True)
class SecretKey:
    """The key that hashes sensitive values for labels (HMAC-SHA256). It never goes to the
    engine: without it a label's digest cannot be checked against guessed values."""

    key: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        """A short, public fingerprint of the key (an HMAC of a fixed string)."""
        return hmac.new(self.key, b"envkit secret key id", hashlib.sha256).hexdigest()[:12]

    def token(self, value: str) -> str:
        """``(sensitive:<32 hex>)``: what a label holds instead of ``value``."""
        digest = hmac.new(self.key, value.encode("utf-8"), hashlib.sha256).hexdigest()
        return f"(sensitive:{digest[:32]})"


# A sensitive value as the canonical spec records it; display code shows it as (sensitive).
SECRET_TOKEN = re.compile(r"\(sensitive:[0-9a-f]{32}\)")
# The canonical spec's field naming the key its tokens were made with.
SECRET_KEY_FIELD = "secret_key_id"


class MissingSecretKey(ValueError):
    """A spec with sensitive values was hashed without a key (a programming error: the
    caller must attach one, see ``envkit.secretkey.with_secret_key``)."""


@dataclass(frozen=True, slots=True)
class Secrets:
    """The sensitive values of a render, and the key that hashes them in labels."""

    values: frozenset[str] = field(default=frozenset(), repr=False)
    key: SecretKey | None = field(default=None, repr=False)


NO_SECRETS = Secrets()


class Masker:
    """Replaces every sensitive value inside every string by its keyed token."""

    def __init__(self, values: frozenset[str], key: SecretKey | None) -> None:
        ordered = sorted((v for v in values if v), key=len, reverse=True)
        self.pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self.key = key
        self.used = False

    def token(self, value: str) -> str:
        if self.key is None:
            raise MissingSecretKey("a spec with sensitive values needs envkit's secret key")
        self.used = True
        return self.key.token(value)

    def text(self, value: str) -> str:
        if self.pattern is None:
            return value
        return self.pattern.sub(lambda m: self.token(m.group(0)), value)

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.data(v) for v in value]
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        return value

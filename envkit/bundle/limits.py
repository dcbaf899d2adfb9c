"""How far a bundle may expand when it is read (compression bombs), and the reader that
enforces it while decompressing, so memory stays bounded and time is proportional to the
limit.

==============================  =======================  =====================================
environment variable            default                  what it bounds
==============================  =======================  =====================================
``ENVKIT_BUNDLE_MAX_RATIO``     100                      decompressed bytes per byte of the
                                                         file (plus 1 MiB for headers)
``ENVKIT_BUNDLE_MAX_BYTES``     64G                      decompressed bytes in all
``ENVKIT_BUNDLE_MAX_MEMBERS``   100000                   members in the archive
``ENVKIT_BUNDLE_MAX_STACK``     256M                     the stack files, held in memory
==============================  =======================  =====================================

Sizes take a K, M, G or T suffix (powers of 1024). A real bundle expands 3 to 5 times
(image layers are mostly binaries); a bomb (a 5 MB member of zeros that expands to 5 GB) is
refused once it passes the limit, before anything is loaded or written.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from envkit.bundle.format import BundleError
from envkit.errors import UsageError

__all__ = ["LimitedReader", "Limits"]

_SLACK = 1 << 20  # tar headers and padding of a small bundle
_SIZE = re.compile(r"([0-9]{1,15})([KMGT]?)(?:i?B)?", re.IGNORECASE)
_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


@dataclass(frozen=True, slots=True)
class Limits:
    max_ratio: int = 100
    max_bytes: int = 64 << 30
    max_members: int = 100_000
    max_stack_bytes: int = 256 << 20

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        env = os.environ if environ is None else environ
        default = cls()
        return cls(
            max_ratio=_read(env, "ENVKIT_BUNDLE_MAX_RATIO", default.max_ratio, sizes=False),
            max_bytes=_read(env, "ENVKIT_BUNDLE_MAX_BYTES", default.max_bytes),
            max_members=_read(env, "ENVKIT_BUNDLE_MAX_MEMBERS", default.max_members, sizes=False),
            max_stack_bytes=_read(env, "ENVKIT_BUNDLE_MAX_STACK", default.max_stack_bytes),
        )

    def expanded(self, file_size: int, compression: str) -> int:
        """The most decompressed bytes a file of ``file_size`` bytes may give."""
        if compression == "none":
            return min(file_size + _SLACK, self.max_bytes)
        return min(file_size * self.max_ratio + _SLACK, self.max_bytes)


def _read(env: Mapping[str, str], name: str, default: int, *, sizes: bool = True) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    match = _SIZE.fullmatch(raw)
    if match is None or (match.group(2) and not sizes) or int(match.group(1)) < 1:
        what = "a size such as 512M or 64G" if sizes else "a positive whole number"
        raise UsageError(
            f"{name}={raw!r} is not {what}",
            code="bad-limit",
            hint=f"unset {name} for the default ({default})",
        )
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def too_large(path: str, what: str, limit: int, variable: str) -> BundleError:
    return BundleError(
        f"the bundle {path} expands past {what} ({limit:,}); it was refused and nothing was loaded",
        code="bundle-too-large",
        hint=f"a bundle made by `envkit bundle save` stays far below it (a compression "
        f"bomb does not); if you trust this file, raise {variable}",
    )


class LimitedReader:
    """A reader of decompressed bytes that refuses to give more than ``limit`` of them."""

    def __init__(self, raw: Any, path: str, limits: Limits, file_size: int, kind: str) -> None:
        self._raw = raw
        self._path = path
        self._limits = limits
        self.limit = limits.expanded(file_size, kind)
        self._by_ratio = self.limit < limits.max_bytes
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        want = self.limit + 1 - self.count if n < 0 else min(n, self.limit + 1 - self.count)
        data: bytes = self._raw.read(max(want, 1))
        self.count += len(data)
        if self.count > self.limit:
            self.refuse()
        return data

    def announce(self, size: int) -> None:
        """A member header says ``size`` bytes follow: refuse now if they cannot fit."""
        if self.count + size > self.limit:
            self.refuse()

    def refuse(self) -> None:
        if self._by_ratio:
            raise too_large(
                self._path,
                f"{self._limits.max_ratio} times its size",
                self.limit,
                "ENVKIT_BUNDLE_MAX_RATIO",
            )
        raise too_large(self._path, "the absolute limit", self.limit, "ENVKIT_BUNDLE_MAX_BYTES")

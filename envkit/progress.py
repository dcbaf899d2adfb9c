"""Progress reporting. apply never prints: it tells a Reporter, and the CLI chooses one
(plain lines on stderr, or a live display on a TTY). Data never goes through here."""

from __future__ import annotations

import sys
import threading
from typing import Protocol, TextIO

from envkit.errors import redact

__all__ = ["LineReporter", "NullReporter", "Reporter"]


class Reporter(Protocol):
    def step(self, subject: str, message: str) -> None:
        """A state change of one object: ``step("shop-dev-db-1", "created")``."""

    def output(self, subject: str, line: str) -> None:
        """A line of output an operation produced (build or pull output)."""


class NullReporter:
    def step(self, subject: str, message: str) -> None:
        pass

    def output(self, subject: str, line: str) -> None:
        pass


class LineReporter:
    """One line per event, thread-safe, secrets redacted."""

    def __init__(self, stream: TextIO | None = None, secrets: frozenset[str] = frozenset()) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._secrets = secrets
        self._lock = threading.Lock()

    def _write(self, text: str) -> None:
        with self._lock:
            self._stream.write(redact(text, self._secrets) + "\n")
            self._stream.flush()

    def step(self, subject: str, message: str) -> None:
        self._write(f"{subject}: {message}")

    def output(self, subject: str, line: str) -> None:
        self._write(f"{subject} | {line.rstrip()}")

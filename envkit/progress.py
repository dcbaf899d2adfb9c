"""Progress reporting. apply never prints: it tells a Reporter, and the CLI chooses one
(plain lines on stderr, or a live display on a TTY). Data never goes through here."""

from __future__ import annotations

import os
import sys
import threading
from typing import Protocol, TextIO

from envkit.errors import redact

__all__ = ["LineReporter", "LiveReporter", "NullReporter", "Reporter", "reporter_for"]


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


class LiveReporter:
    """A live display for a terminal: one line per object, redrawn in place as its state
    changes (``docker compose`` style); output lines of builds/pulls scroll above it."""

    def __init__(self, stream: TextIO, secrets: frozenset[str] = frozenset()) -> None:
        self._stream = stream
        self._secrets = secrets
        self._lock = threading.Lock()
        self._order: list[str] = []
        self._state: dict[str, str] = {}
        self._drawn = 0

    def _redraw(self) -> None:
        out = []
        if self._drawn:
            out.append(f"\x1b[{self._drawn}F")  # to the start of the first drawn line
        width = max((len(s) for s in self._order), default=0)
        for subject in self._order:
            out.append(f"\x1b[2K {subject.ljust(width)}  {self._state[subject]}\n")
        self._drawn = len(self._order)
        self._stream.write(redact("".join(out), self._secrets))
        self._stream.flush()

    def step(self, subject: str, message: str) -> None:
        with self._lock:
            if subject not in self._state:
                self._order.append(subject)
            self._state[subject] = message
            self._redraw()

    def output(self, subject: str, line: str) -> None:
        with self._lock:
            if self._drawn:
                self._stream.write(f"\x1b[{self._drawn}F\x1b[J")
                self._drawn = 0
            self._stream.write(redact(f"{subject} | {line.rstrip()}", self._secrets) + "\n")
            self._redraw()


def reporter_for(stream: TextIO, secrets: frozenset[str] = frozenset()) -> Reporter:
    """A live display on a terminal (unless ``TERM=dumb``), plain lines otherwise (CI
    logs, pipes)."""
    if stream.isatty() and os.environ.get("TERM", "dumb") != "dumb":
        return LiveReporter(stream, secrets)
    return LineReporter(stream, secrets)

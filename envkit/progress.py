"""Progress reporting. apply never prints: it tells a Reporter, and the CLI chooses one
(plain lines on stderr, or a live display on a terminal). Data never goes through here.

An event is about one engine object, a :class:`Subject` (which kind, its name, and for a
container its service). Every object a run touches ends in a final state: the step that
carries an :class:`Outcome`. The :class:`Board` keeps each object's line (state, elapsed
time, outcome) and the closing summary ("3 created, 1 recreated in 12.4 s"); both
displays draw from it. The live display (``envkit.cli.live``, on ``rich``) is imported only on
a terminal, so start-up stays fast.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import Enum
from types import TracebackType
from typing import Protocol, TextIO

from envkit.errors import EnvkitError, redact

__all__ = [
    "Board",
    "Display",
    "Kind",
    "Line",
    "LineReporter",
    "NullReporter",
    "Outcome",
    "Reporter",
    "Subject",
    "failing",
    "use_color",
]

Clock = Callable[[], float]


class Kind(Enum):
    NETWORK = "network"
    VOLUME = "volume"
    CONTAINER = "container"
    IMAGE = "image"
    PROJECT = "project"


@dataclass(frozen=True, slots=True)
class Subject:
    """The object an event is about. ``str()`` is the engine name (plain lines print it)."""

    kind: Kind
    name: str
    service: str | None = None  # containers only

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        """How the live display names it: ``shop-dev-web-1 (web)``, as plans do."""
        return f"{self.name} ({self.service})" if self.service else self.name


class Outcome(Enum):
    """A final state. The first group says what the run did to the object and is counted
    in the summary; the second says how a wait ended and is not (the object was already
    counted as created, started or unchanged)."""

    CREATED = "created"
    RECREATED = "recreated"
    STARTED = "started"
    REMOVED = "removed"
    KEPT = "kept"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "not started"
    STOPPED = "interrupted"  # the run ended (Ctrl-C, an error elsewhere) before this did
    PULLED = "pulled"
    HEALTHY = "healthy"
    READY = "ready"
    COMPLETED = "completed"

    @property
    def counted(self) -> bool:
        return self not in (Outcome.PULLED, Outcome.HEALTHY, Outcome.READY, Outcome.COMPLETED)

    @property
    def changed(self) -> bool:
        return self in (Outcome.CREATED, Outcome.RECREATED, Outcome.STARTED, Outcome.REMOVED)


# The summary's order; a count of zero is left out.
_SUMMARY_ORDER = (
    Outcome.CREATED,
    Outcome.RECREATED,
    Outcome.STARTED,
    Outcome.REMOVED,
    Outcome.KEPT,
    Outcome.UNCHANGED,
    Outcome.FAILED,
    Outcome.SKIPPED,
    Outcome.STOPPED,
)


# Final states whose message says more than the word (why it failed, how to remove it).
_DETAILED = (Outcome.FAILED, Outcome.SKIPPED, Outcome.STOPPED, Outcome.KEPT)


class Reporter(Protocol):
    def step(self, subject: Subject, message: str, outcome: Outcome | None = None) -> None:
        """A state change of one object: ``step(web, "creating")``; the last step of an
        object carries its outcome: ``step(web, "started", Outcome.CREATED)``."""

    def output(self, subject: Subject, line: str) -> None:
        """A line of output an operation produced (build or pull output)."""


class NullReporter:
    def step(self, subject: Subject, message: str, outcome: Outcome | None = None) -> None:
        pass

    def output(self, subject: Subject, line: str) -> None:
        pass


@contextmanager
def failing(reporter: Reporter, subjects: Iterable[Subject]) -> Iterator[None]:
    """Report ``subjects`` failed with the message of an EnvkitError raised inside."""
    try:
        yield
    except EnvkitError as exc:
        for subject in subjects:
            reporter.step(subject, f"failed: {exc.message}", Outcome.FAILED)
        raise


# -- the board: what both displays show --------------------------------------------------


@dataclass(slots=True)
class Line:
    subject: Subject
    started: float
    message: str = ""
    outcome: Outcome | None = None  # set: the line is in a final state
    counted: Outcome | None = None  # what the run did to it, for the summary
    ended: float | None = None

    def elapsed(self, now: float) -> float:
        return (self.ended if self.ended is not None else now) - self.started

    @property
    def state(self) -> str:
        """What the live display shows: in progress, the message; at the end, the
        outcome's word ("created", where the plain message says "started"; "healthy" when
        a wait ended it); a failure keeps its message (why), without the object's own
        name, which the line shows already ("failed: exited with code 3")."""
        outcome = self.outcome
        if outcome is None or outcome in _DETAILED:
            if outcome is Outcome.FAILED:
                return self.message.replace(f": {self.subject.name} ", ": ", 1)
            return self.message
        return outcome.value


@dataclass(slots=True)
class Board:
    """Every object's line, in first-seen order, and the summary. Not thread-safe: the
    displays hold their lock around it."""

    now: Clock = time.monotonic
    nothing: str = "no changes"  # the summary's start when nothing changed ("nothing to remove")
    began: float = field(init=False)
    lines: dict[Subject, Line] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.began = self.now()

    def step(self, subject: Subject, message: str, outcome: Outcome | None) -> Line:
        now = self.now()
        line = self.lines.get(subject)
        if line is None:
            line = self.lines[subject] = Line(subject, now)
        line.message = message
        line.outcome = outcome
        line.ended = now if outcome is not None else None
        if outcome is not None and outcome.counted:
            line.counted = outcome
        return line

    def stop_unfinished(self) -> None:
        """The run ended: a line still in progress will not get further."""
        for line in self.lines.values():
            if line.outcome is None:
                self.step(line.subject, f"interrupted ({line.message})", Outcome.STOPPED)

    def summary(self) -> str:
        counts = {o: 0 for o in _SUMMARY_ORDER}
        for line in self.lines.values():
            if line.counted is not None:
                counts[line.counted] += 1
        took = f"in {self.now() - self.began:.1f} s"
        parts = [f"{n} {o.value}" for o, n in counts.items() if n]
        if not any(counts[o] for o in _SUMMARY_ORDER if o.changed or o is Outcome.FAILED):
            return ", ".join([self.nothing, *parts]) + f" {took}"
        return ", ".join(parts) + f" {took}"


class Display(Reporter, Protocol):
    """A Reporter the CLI owns for one command: messages (the plan, a lock wait) go through
    it so they do not tear a live display, and closing it prints the summary."""

    def note(self, text: str) -> None: ...

    def __enter__(self) -> Display: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class LineReporter:
    """One line per event, thread-safe, secrets redacted; as a Display, a summary line at
    the end (for logs and pipes)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        secrets: frozenset[str] = frozenset(),
        *,
        now: Clock = time.monotonic,
        summary: bool = True,
        nothing: str = "no changes",
    ) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._secrets = secrets
        self._lock = threading.Lock()
        self._board = Board(now, nothing)
        self._summary = summary

    def _write(self, text: str) -> None:
        with self._lock:
            self._stream.write(redact(text, self._secrets) + "\n")
            self._stream.flush()

    def step(self, subject: Subject, message: str, outcome: Outcome | None = None) -> None:
        with self._lock:
            self._board.step(subject, message, outcome)
        self._write(f"{subject}: {message}")

    def output(self, subject: Subject, line: str) -> None:
        self._write(f"{subject} | {line.rstrip()}")

    def note(self, text: str) -> None:
        self._write(text)

    def __enter__(self) -> LineReporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            wanted = self._summary and (self._board.lines or exc_type is None)
            summary = self._board.summary() if wanted else ""
        if summary:
            self._write(summary)


def use_color(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """Colour unless ``NO_COLOR`` has a value (https://no-color.org)."""
    return not environ.get("NO_COLOR")

"""The live display on a terminal, drawn with rich: one line per object (network, volume,
container, image) with its kind, name, state and elapsed time, redrawn in place, and a
closing summary line. Imported only when the output is a terminal (``reporter_for``).

Rich lays each line out at the terminal's current width, cutting the name and the state
with an ellipsis rather than wrapping, so a narrow or resized terminal never shows a line
twice. Output lines of pulls and builds scroll above the display. Every text is redacted
before rich sees it, and taken as plain text (never as markup).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from envkit.errors import redact
from envkit.progress import Board, Line, Outcome, Subject

__all__ = ["Columns", "LiveReporter", "columns", "elapsed_text"]

_STYLE = {
    None: "yellow",
    Outcome.FAILED: "bold red",
    Outcome.SKIPPED: "red",
    Outcome.STOPPED: "red",
    Outcome.UNCHANGED: "dim",
    Outcome.KEPT: "dim",
}


@dataclass(frozen=True, slots=True)
class Columns:
    kind: int  # 0: left out (a very narrow terminal)
    name: int
    state: int
    elapsed: int


def columns(
    width: int, kinds: list[str], names: list[str], states: list[str], times: list[str]
) -> Columns:
    """Column widths for a terminal ``width`` columns wide, so that a line is at most
    ``width - 1`` long (a character in the last column makes some terminals wrap): the
    name and the state share what the mark, the kind and the elapsed time leave; when both
    do not fit, the name keeps two fifths (at least 16 columns, or half when narrower: its
    end tells the lines apart) and the state, which says what happened, the rest; the kind
    goes first when too narrow."""
    elapsed = max((len(t) for t in times), default=4)
    kind = max((len(k) for k in kinds), default=0)
    name_need = max((len(n) for n in names), default=0)
    state_need = max((len(s) for s in states), default=0)
    free = width - 1 - (2 + kind + 1 + 1 + 1 + elapsed)  # mark+space, spaces, elapsed
    if free < 16:
        free += kind + 1
        kind = 0
    free = max(free, 2)
    if name_need + state_need <= free:
        return Columns(kind, name_need, state_need, elapsed)
    name = min(name_need, max(free * 2 // 5, min(16, free // 2)))
    state = min(state_need, max(free - name, 1))
    return Columns(kind, free - state, state, elapsed)


def _cell(text: str, width: int, *, keep_end: bool = False) -> str:
    """``text`` in exactly ``width`` columns: padded, or cut with an ellipsis (at the
    start with ``keep_end``: a name keeps its replica and service, which tell the lines
    apart, and loses the project prefix they share)."""
    if len(text) <= width:
        return text.ljust(width)
    if not width:
        return ""
    if keep_end:
        return "…" + text[len(text) - width + 1 :]
    return text[: width - 1] + "…"


def elapsed_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


class LiveReporter:
    """A Display for a terminal (see ``envkit.progress.Display``)."""

    def __init__(
        self,
        stream: TextIO,
        secrets: frozenset[str] = frozenset(),
        *,
        color: bool = True,
        now: Callable[[], float] = time.monotonic,
        width: int | None = None,
        summary: bool = True,
        nothing: str = "no changes",
    ) -> None:
        self._summary = summary
        self._stream = stream
        self._secrets = secrets
        self._lock = threading.RLock()
        self._board = Board(now, nothing)
        self._fixed_width = width
        self._console = Console(
            file=stream,
            force_terminal=True,
            color_system="auto" if color else None,
            no_color=not color,
            highlight=False,
            emoji=False,
            markup=False,
            width=width,
        )
        utf = (getattr(stream, "encoding", None) or "").lower().replace("-", "").startswith("utf")
        self._marks = {
            "done": "✔" if utf else "+",
            "fail": "✘" if utf else "x",
            "busy": "•" if utf else "*",
        }
        self._live: Live | None = None

    # -- drawing ---------------------------------------------------------------------------

    def _width(self) -> int:
        """The stream's own terminal width (rich would ask stdin first), re-read at each
        refresh so a resized terminal is followed."""
        if self._fixed_width is not None:
            return self._fixed_width
        try:
            return os.get_terminal_size(self._stream.fileno()).columns or 80
        except (AttributeError, ValueError, OSError):
            return 80

    def _mark(self, line: Line) -> Text:
        if line.outcome is None:
            return Text(self._marks["busy"], style="yellow")
        if line.outcome in (Outcome.FAILED, Outcome.SKIPPED, Outcome.STOPPED):
            return Text(self._marks["fail"], style="red")
        changed = line.counted is not None and line.counted.changed
        return Text(self._marks["done"], style="green" if changed else "dim")

    def render(self) -> Group:
        """The display as it is now: one line per object, laid out for the current width."""
        with self._lock:
            width = self._console.width = self._width()
            now = self._board.now()
            rows = [
                (
                    line,
                    self._clean(line.subject.label),
                    self._clean(line.state),
                    elapsed_text(line.elapsed(now)),
                )
                for line in self._board.lines.values()
            ]
            cols = columns(
                width,
                [line.subject.kind.value for line, *_ in rows],
                [name for _, name, _, _ in rows],
                [state for _, _, state, _ in rows],
                [took for *_, took in rows],
            )
            texts = []
            for line, name, state, took in rows:
                text = Text.assemble(
                    self._mark(line),
                    " ",
                    (_cell(line.subject.kind.value, cols.kind), "dim") if cols.kind else "",
                    " " if cols.kind else "",
                    _cell(name, cols.name, keep_end=True),
                    " ",
                    (_cell(state, cols.state), _STYLE.get(line.outcome, "green")),
                    " ",
                    (took.rjust(cols.elapsed), "dim"),
                )
                text.truncate(width - 1, overflow="ellipsis")  # never the last column
                texts.append(text)
            return Group(*texts)

    def _clean(self, text: str) -> str:
        """Redacted, on one line (a message with a newline would break the layout)."""
        return redact(" ".join(text.split()), self._secrets)

    def _ensure_live(self) -> Live:
        if self._live is None:
            self._live = Live(
                console=self._console,
                get_renderable=self.render,
                refresh_per_second=4,
                redirect_stdout=False,
                redirect_stderr=False,
                transient=False,
            )
            self._live.start()
        return self._live

    # -- the Reporter and Display protocols ------------------------------------------------

    # Lock order: rich's Live lock, then ours (render runs under Live's lock), so ours is
    # never held while calling into Live.

    def step(self, subject: Subject, message: str, outcome: Outcome | None = None) -> None:
        with self._lock:
            self._board.step(subject, message, outcome)
            live = self._ensure_live()
        live.refresh()

    def output(self, subject: Subject, line: str) -> None:
        self.note(f"{subject} | {line.rstrip()}")

    def note(self, text: str) -> None:
        """Text above the display (the plan, a lock wait), printed as is."""
        self._console.print(Text(redact(text, self._secrets)), soft_wrap=True)

    def __enter__(self) -> LiveReporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            if exc_type is not None:
                self._board.stop_unfinished()
            live, self._live = self._live, None
        if live is not None:
            live.stop()  # draws the final state once more, and leaves it on the screen
        with self._lock:
            if not self._summary or (not self._board.lines and exc_type is not None):
                return
            summary = self._board.summary()
            failed = any(line.counted is Outcome.FAILED for line in self._board.lines.values())
        self._console.print(Text(summary, style="bold red" if failed else "bold"))

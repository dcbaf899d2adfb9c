"""The progress displays without Docker: the board (final states, elapsed times, the
summary) on a fake clock, the plain lines, and the live display rendered through a
terminal emulator (pyte) at several widths."""

from __future__ import annotations

import io
import re

import pyte
import pytest

from envkit.cli.live import LiveReporter, columns
from envkit.progress import Board, Kind, LineReporter, Outcome, Subject, use_color

NET = Subject(Kind.NETWORK, "shop-dev")
VOL = Subject(Kind.VOLUME, "shop-dev_data")
DB = Subject(Kind.CONTAINER, "shop-dev-db-1", "db")
WEB = Subject(Kind.CONTAINER, "shop-dev-web-1", "web")
SGR = re.compile(r"\x1b\[[0-9;]*m")


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t

    def tick(self, seconds: float) -> None:
        self.t += seconds


def scripted(reporter: LineReporter | LiveReporter | Board, clock: Clock) -> None:
    """A fresh `up --wait`: network, volume, db (healthy), web waiting for db then created."""

    def step(subject: Subject, message: str, outcome: Outcome | None = None) -> None:
        reporter.step(subject, message, outcome)

    step(NET, "creating network")
    clock.tick(0.2)
    step(NET, "created", Outcome.CREATED)
    step(VOL, "creating volume")
    step(VOL, "created", Outcome.CREATED)
    step(DB, "creating")
    step(WEB, "waiting for shop-dev-db-1 (service_healthy)")
    clock.tick(1.0)
    step(DB, "created")
    step(DB, "started", Outcome.CREATED)
    clock.tick(2.0)
    step(WEB, "creating")
    step(WEB, "started", Outcome.RECREATED)
    step(DB, "waiting until ready")
    clock.tick(0.5)
    step(DB, "ready", Outcome.HEALTHY)


def test_board_final_states_elapsed_and_summary() -> None:
    clock = Clock()
    board = Board(clock)
    scripted(board, clock)
    lines = board.lines
    assert list(lines) == [NET, VOL, DB, WEB]  # first-seen order, one line per object
    assert all(line.outcome is not None for line in lines.values())
    assert [line.state for line in lines.values()] == ["created", "created", "healthy", "recreated"]
    assert lines[NET].elapsed(clock()) == pytest.approx(0.2)
    assert lines[DB].elapsed(clock()) == pytest.approx(3.5)  # creating .. healthy
    assert lines[WEB].elapsed(clock() + 10) == pytest.approx(3.0)  # stopped at its end
    assert board.summary() == "3 created, 1 recreated in 3.7 s"


def test_summary_of_a_no_op_a_teardown_and_a_failure() -> None:
    clock = Clock()
    noop = Board(clock)
    noop.step(DB, "unchanged", Outcome.UNCHANGED)
    noop.step(WEB, "unchanged", Outcome.UNCHANGED)
    noop.step(WEB, "waiting until ready", None)
    clock.tick(0.3)
    noop.step(WEB, "ready", Outcome.READY)  # a wait does not change what was counted
    assert noop.summary() == "no changes, 2 unchanged in 0.3 s"
    assert Board(clock).summary() == "no changes in 0.0 s"

    down = Board(clock)
    down.step(WEB, "removed", Outcome.REMOVED)
    down.step(VOL, "kept (use --volumes to remove)", Outcome.KEPT)
    assert down.summary() == "1 removed, 1 kept in 0.0 s"
    assert Board(clock, "nothing to remove").summary() == "nothing to remove in 0.0 s"
    kept = Board(clock, "nothing to remove")
    kept.step(VOL, "kept (use --volumes to remove)", Outcome.KEPT)
    assert kept.summary() == "nothing to remove, 1 kept in 0.0 s"

    bad = Board(clock)
    bad.step(DB, "failed: shop-dev-db-1 exited with code 3", Outcome.FAILED)
    bad.step(WEB, "not started (dependency db failed)", Outcome.SKIPPED)
    assert bad.summary() == "1 failed, 1 not started in 0.0 s"
    assert bad.lines[DB].state == "failed: exited with code 3"


def test_an_interrupted_run_leaves_no_line_in_progress() -> None:
    board = Board(Clock())
    board.step(WEB, "waiting for shop-dev-db-1 (service_healthy)", None)
    board.stop_unfinished()
    assert board.lines[WEB].outcome is Outcome.STOPPED
    assert board.lines[WEB].state == "interrupted (waiting for shop-dev-db-1 (service_healthy))"


def test_plain_lines_are_stable_redacted_and_end_with_the_summary() -> None:
    clock = Clock()
    out = io.StringIO()
    with LineReporter(out, frozenset({"hunter2"}), now=clock) as rep:
        scripted(rep, clock)
        rep.output(Subject(Kind.IMAGE, "app:1"), "step 1: echo hunter2\n")
    assert out.getvalue().splitlines() == [
        "shop-dev: creating network",
        "shop-dev: created",
        "shop-dev_data: creating volume",
        "shop-dev_data: created",
        "shop-dev-db-1: creating",
        "shop-dev-web-1: waiting for shop-dev-db-1 (service_healthy)",
        "shop-dev-db-1: created",
        "shop-dev-db-1: started",
        "shop-dev-web-1: creating",
        "shop-dev-web-1: started",
        "shop-dev-db-1: waiting until ready",
        "shop-dev-db-1: ready",
        "app:1 | step 1: echo (sensitive)",
        "3 created, 1 recreated in 3.7 s",
    ]
    assert not SGR.search(out.getvalue())


class Tty(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


def screen_of(data: str, width: int) -> list[str]:
    screen = pyte.Screen(width, 40)
    pyte.Stream(screen).feed(data.replace("\n", "\r\n"))
    return [row.rstrip() for row in screen.display if row.strip()]


OBJECT_ROW = re.compile(r"^[✔✘•] ")


@pytest.mark.parametrize("width", [24, 30, 50, 80, 120])
@pytest.mark.parametrize("color", [True, False])
def test_live_display_final_screen_at_each_width(width: int, color: bool) -> None:
    clock = Clock()
    tty = Tty()
    secret_web = Subject(Kind.CONTAINER, "shop-dev-web-1", "web")
    with LiveReporter(tty, frozenset({"hunter2"}), color=color, now=clock, width=width) as rep:
        rep.note("envkit will perform the following actions on shop-dev:")
        scripted(rep, clock)
        rep.output(Subject(Kind.IMAGE, "app:1"), "token hunter2 used")
        rep.step(secret_web, "started", Outcome.RECREATED)
    raw = tty.getvalue()
    assert "hunter2" not in raw
    assert bool(SGR.search(raw)) is color
    rows = screen_of(raw, width)
    objects = [r for r in rows if OBJECT_ROW.match(r)]
    assert len(objects) == 4, rows  # one line per object, never a duplicate
    assert len(set(objects)) == 4
    assert all(len(r) < width for r in objects)
    assert not any(r.startswith("•") for r in objects)  # every line in a final state
    first = rows.index(objects[0])
    assert rows[first : first + 4] == objects  # no wrapped continuation in between
    after = " ".join(rows[first + 4 :]).split()  # a narrow terminal wraps the summary
    assert " ".join(after) == "3 created, 1 recreated in 3.7 s"
    if width >= 50:
        assert [r.split()[1] for r in objects] == ["network", "volume", "container", "container"]
        assert "shop-dev-web-1 (web)" in objects[3] and "recreated" in objects[3]
        assert objects[2].split()[-2:] == ["healthy", "3.5s"]


def test_columns_share_the_width_and_keep_the_state_readable() -> None:
    cols = columns(50, ["container"], ["t1234abcd-e-web-1 (web)"], ["unchanged"], ["12.5s"])
    assert 2 + cols.kind + 1 + cols.name + 1 + cols.state + 1 + cols.elapsed <= 49
    assert cols.state == 9 and cols.kind == 9 and cols.elapsed == 5
    narrow = columns(24, ["container"], ["t1234abcd-e-web-1 (web)"], ["recreated"], ["1.0s"])
    assert narrow.kind == 0  # the kind goes first
    assert 2 + narrow.name + 1 + narrow.state + 1 + narrow.elapsed <= 23
    assert narrow.state >= 7 and narrow.name >= 7  # both still say something
    failed = columns(70, ["container"], ["t1-e-broken-1 (broken)" * 2], ["x" * 26], ["2.6s"])
    assert failed.state == 26  # the state (why it failed) before the name's project prefix


def test_no_color_needs_a_value() -> None:
    assert use_color({})
    assert use_color({"NO_COLOR": ""})
    assert not use_color({"NO_COLOR": "1"})

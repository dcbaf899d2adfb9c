"""Argument handling of the lifecycle commands (no engine): exec's command line, --index,
--since/--until, and the logs prefixes and colours."""

from __future__ import annotations

import argparse
import io
import time

import pytest

from envkit.cli.argtypes import moment
from envkit.cli.commands.logs import Prefixer, use_colour
from envkit.cli.table import build_parser
from envkit.errors import UsageError


def test_exec_options_go_before_service_and_the_command_keeps_its_own() -> None:
    args = build_parser("exec").parse_args(
        ["dev", "-T", "-e", "A=1", "-u", "0", "-w", "/x", "--index", "2", "db", "sh", "-c",
         "ls -l", "-e", "B"]
    )  # fmt: skip
    assert (args.env, args.service, args.index) == ("dev", "db", 2)
    assert args.exec_command == ["sh", "-c", "ls -l", "-e", "B"]
    assert (args.no_tty, args.environment, args.user, args.workdir) == (
        True,
        [("A", "1")],
        "0",
        "/x",
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["dev", "db", "--index", "0", "true"], None),  # after SERVICE: part of the command
        (["dev", "--index", "0", "db", "true"], "--index"),
        (["dev", "-e", "NOEQUALS", "db", "true"], "KEY=VALUE"),
    ],
)
def test_exec_bad_options_are_usage_errors(argv: list[str], message: str | None) -> None:
    parser = build_parser("exec")
    if message is None:
        assert parser.parse_args(argv).exec_command == ["--index", "0", "true"]
        return
    with pytest.raises(UsageError) as bad:
        parser.parse_args(argv)
    assert message in str(bad.value)


@pytest.mark.parametrize("name", ["stop", "start", "restart", "kill", "pause", "unpause", "top"])
def test_service_commands_take_services_index_and_instance(name: str) -> None:
    args = build_parser(name).parse_args(["dev", "a", "b", "--index", "3", "--instance", "x1"])
    assert (args.services, args.index, args.instance) == (["a", "b"], 3, "x1")
    assert build_parser(name).parse_args(["dev"]).services == []


def test_kill_signal_and_stop_timeout() -> None:
    assert build_parser("kill").parse_args(["dev"]).signal == "SIGKILL"
    assert build_parser("kill").parse_args(["dev", "-s", "HUP"]).signal == "HUP"
    assert build_parser("stop").parse_args(["dev", "-t", "2m"]).timeout == 120.0


def test_moment_takes_a_duration_ago_or_a_time() -> None:
    assert abs(moment("10m") - (time.time() - 600)) < 5
    assert moment("2026-01-31T12:00:00Z") == 1769860800.0
    with pytest.raises(argparse.ArgumentTypeError, match="neither a duration"):
        moment("yesterday")


def test_prefixes_are_aligned_and_coloured_only_when_asked() -> None:
    plain = Prefixer(["p-db-1", "p-worker-1"], enabled=True, colour=False)
    assert plain.line("p-db-1", "x") == "p-db-1     | x"
    coloured = Prefixer(["p-db-1", "p-worker-1"], enabled=True, colour=True)
    assert coloured.line("p-worker-1", "x") == "\x1b[33mp-worker-1 | \x1b[0mx"
    assert Prefixer(["a"], enabled=False, colour=True).line("a", "x") == "x"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(_Tty()) and not use_colour(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(_Tty())

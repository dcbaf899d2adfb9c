"""Numeric command-line options: refused at parse time with a usage error (exit 2) when
negative, NaN, not a number or too large; the usual values still parse."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

from envkit.cli import main
from envkit.cli.argtypes import (
    MAX_COUNT,
    non_negative_duration,
    non_negative_int,
    positive_duration,
    positive_int,
)
from envkit.errors import UsageError
from envkit.limits import MAX_DURATION_S
from envkit.reconcile.expiry import parse_ttl


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30", 30.0), ("1.5", 1.5), ("90s", 90.0), ("2m", 120.0), ("1h30m", 5400.0),
     (f"{MAX_DURATION_S}", float(MAX_DURATION_S))],
)  # fmt: skip
def test_durations_parse(text: str, seconds: float) -> None:
    assert positive_duration(text) == seconds
    assert non_negative_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "'-1' is negative"),
        ("-0.5s", "'-0.5s' is negative"),
        ("nan", "'nan' is not a number of seconds"),
        ("inf", "'inf' is not a number of seconds"),
        ("1e3", "'1e3' is not a number of seconds"),
        ("", "'' is not a number of seconds"),
        ("99999999999999999999h", "is too long; at most 9223372036 seconds"),
        ("9" * 5000, "is too long; at most"),
    ],
)
def test_bad_durations_are_refused(text: str, message: str) -> None:
    for parse in (positive_duration, non_negative_duration):
        with pytest.raises(argparse.ArgumentTypeError, match=message.replace("(", r"\(")) as info:
            parse(text)
        assert len(str(info.value)) < 120  # a huge value is not echoed whole


def test_zero_is_a_non_negative_duration_but_not_a_positive_one() -> None:
    assert non_negative_duration("0") == 0.0
    with pytest.raises(argparse.ArgumentTypeError, match="longer than zero"):
        positive_duration("0")


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("5", 5), ("007", 7), (str(MAX_COUNT), MAX_COUNT)]
)
def test_counts_parse(text: str, value: int) -> None:
    assert non_negative_int(text) == value


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-5", "'-5' is not a whole number of 0 or more"),
        ("1.5", "is not a whole number"),
        ("nan", "is not a whole number"),
        ("٣", "is not a whole number"),  # a digit, but not an ASCII one
        (str(MAX_COUNT + 1), "is too large; at most 2147483647"),
        ("9" * 5000, "is too large"),
    ],
)
def test_bad_counts_are_refused(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        non_negative_int(text)


def test_positive_int_refuses_zero() -> None:
    assert positive_int("1") == 1
    with pytest.raises(argparse.ArgumentTypeError, match="must be 1 or more"):
        positive_int("0")


@pytest.mark.parametrize(
    "ttl", ["99999999999d", "9" * 400 + "d", "99999999999999999999h", "36501d"]
)
def test_a_ttl_too_long_is_a_usage_error(ttl: str) -> None:
    with pytest.raises(UsageError, match="is too long") as info:
        parse_ttl(ttl)
    assert info.value.exit_code == 2
    assert parse_ttl("36500d") == 36500 * 86400.0


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, err.getvalue()


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    path = tmp_path / "envkit.yaml"
    path.write_text("stack: s\nenvironments: {dev: {}}\nservices:\n  a: {image: busybox}\n")
    return path


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["up", "dev", "--timeout", "-1"], "argument --timeout: '-1' is negative"),
        (["up", "dev", "--timeout", "nan"], "argument --timeout: 'nan' is not"),
        (["up", "dev", "--lock-timeout", "-3"], "argument --lock-timeout: '-3' is negative"),
        (["down", "dev", "--lock-timeout", "inf"], "argument --lock-timeout: 'inf' is not"),
        (["logs", "dev", "a", "--tail", "-5"], "argument --tail: '-5' is not a whole number"),
        (["port", "dev", "a", "80", "--index", "0"], "argument --index: '0' must be 1 or more"),
        (["gc", "--lock-timeout", "-1"], "argument --lock-timeout: '-1' is negative"),
        (["up", "dev", "--ttl", "99999999999d"], "--ttl '99999999999d' is too long"),
        (["gc", "--older-than", "99999999999d"], "--older-than '99999999999d' is too long"),
    ],
)
def test_the_cli_refuses_them_with_exit_2(stack: Path, argv: list[str], needle: str) -> None:
    code, err = run("-f", str(stack), *argv)
    assert code == 2, err
    assert needle in err and "error[usage]" in err and "Traceback" not in err


def test_a_huge_ttl_is_not_echoed_whole() -> None:
    with pytest.raises(UsageError) as info:
        parse_ttl("9" * 5000 + "d")
    assert len(info.value.message) < 100

"""The command table: lazy commands, did-you-mean, global options anywhere."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from envkit.cli import main
from envkit.cli.table import COMMANDS

STACK = "stack: s\nenvironments: {dev: {}}\nservices:\n  web: {image: 'busybox:latest'}\n"


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    path = tmp_path / "x.yaml"
    path.write_text(STACK)
    return path


def test_help_lists_every_command_of_the_table() -> None:
    code, out, _ = run("--help")
    assert code == 0
    for name, info in COMMANDS.items():
        assert f"  {name} " in out and info.summary in out


def test_help_imports_no_command_module() -> None:
    probe = (
        "import io, sys\nfrom envkit.cli import main\n"
        "main(['--help'], stdout=io.StringIO(), stderr=io.StringIO())\n"
        "print(sorted(m for m in sys.modules if m.startswith('envkit.cli.commands.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize(("typed", "meant"), [("plna", "plan"), ("valdate", "validate")])
def test_unknown_command_suggests_the_nearest(typed: str, meant: str) -> None:
    code, _, err = run(typed, "dev")
    assert code == 2
    assert f"error[usage]: unknown command '{typed}'" in err
    assert f"hint: did you mean '{meant}'?" in err


def test_unknown_command_far_from_all_points_to_help() -> None:
    code, _, err = run("zzzzzz")
    assert code == 2
    assert "run 'envkit --help' for the commands" in err


def test_every_command_has_help_for_every_option() -> None:
    import argparse

    from envkit.cli.table import build_parser

    def check(prog: str, parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            assert action.help, f"{prog}: {action.option_strings or action.dest} has no help"
            if isinstance(action, argparse._SubParsersAction):
                for sub, subparser in action.choices.items():
                    check(f"{prog} {sub}", subparser)

    for name in COMMANDS:
        check(f"envkit {name}", build_parser(name))


@pytest.mark.parametrize(
    "argv",
    [
        ("-f", "{stack}", "validate"),
        ("validate", "-f", "{stack}"),
        ("validate", "--file", "{stack}"),
        ("validate", "--file={stack}"),
        ("--file={stack}", "validate"),
    ],
)
def test_global_file_option_before_or_after_the_command(stack: Path, argv: tuple[str, ...]) -> None:
    code, out, err = run(*(a.format(stack=stack) for a in argv))
    assert (code, err) == (0, ""), err
    assert "dev" in out


def test_debug_works_after_the_command(stack: Path) -> None:
    code, _, err = run("render", "prod", "-f", str(stack), "--debug")
    assert code == 2
    assert "Traceback (most recent call last)" in err


def test_logs_keeps_its_own_dash_f_and_takes_long_file_option() -> None:
    from envkit.cli.table import build_parser

    args = build_parser("logs").parse_args(["dev", "-f", "--file", "x.yaml"])
    assert (args.follow, args.file) == (True, ["x.yaml"])  # -f repeats: a list


def test_a_bad_var_is_not_echoed_back(stack: Path) -> None:
    code, _, err = run("-f", str(stack), "render", "dev", "--var", "hunter2-secret")
    assert code == 2
    assert "expected KEY=VALUE" in err
    assert "hunter2" not in err


@pytest.mark.parametrize("command", ["ps", "logs", "port"])
def test_engine_read_commands_take_var_and_instance(command: str) -> None:
    from envkit.cli.table import build_parser

    extra = {"ps": [], "logs": [], "port": ["web", "80"]}[command]
    args = build_parser(command).parse_args(["dev", *extra, "--var", "a=b", "--instance", "i1"])
    assert (args.var, args.instance) == ([("a", "b")], "i1")


def test_errors_under_json_are_a_json_document_on_stdout(tmp_path: Path) -> None:
    import json

    bad = tmp_path / "bad.yaml"
    bad.write_text(STACK.replace("image: 'busybox:latest'", "image: 'busybox:latest', replicas: x"))
    code, out, err = run("-f", str(bad), "render", "dev", "--json")
    assert code == 2 and "error[" in err
    doc = json.loads(out)
    assert doc["format_version"] == 1
    assert doc["error"]["file"] == str(bad) and doc["error"]["line"] == 4
    assert doc["error"]["diagnostics"][0]["path"] == "services.web.replicas"


def test_validate_json_prints_its_own_document_once(tmp_path: Path) -> None:
    import json

    bad = tmp_path / "bad.yaml"
    bad.write_text(STACK.replace("image: 'busybox:latest'", "image: 'busybox:latest', replicas: x"))
    code, out, _ = run("-f", str(bad), "validate", "--json")
    assert code == 2
    doc = json.loads(out)  # one document, not two
    assert doc["format_version"] == 1 and doc["valid"] is False

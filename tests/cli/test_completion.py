"""Shell completion: envkit __complete, and the bash script driving it for real."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from envkit.cli.completion import SCRIPTS, candidates

STACKS = Path(__file__).resolve().parents[2] / "stacks"
WEB = str(STACKS / "web.yaml")


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ([""], None),  # every command, checked below
        (["-f", ""], [":files"]),
        (["-f", WEB, "up", ""], ["dev", "test", "ci"]),
        (["up", "-f", WEB, "dev", "--var", "a=b", ""], ["migrate", "api", "worker"]),
        (["--file=" + WEB, "port", "dev", ""], ["migrate", "api", "worker"]),
        (["logs", "dev", "--file", WEB, ""], ["migrate", "api", "worker"]),
        (["graph", "dev", "--format", ""], ["mermaid", "dot"]),
        (["bundle", ""], ["save", "load", "inspect", "push"]),
        (["completion", ""], ["bash", "zsh", "fish"]),
        (["nonsense", ""], []),
    ],
)
def test_candidates(words: list[str], expected: list[str] | None) -> None:
    got = candidates(words)
    if expected is None:
        assert {"validate", "plan", "up", "down", "completion"} <= set(got)
    else:
        assert got == expected


def test_options_of_a_command() -> None:
    got = candidates(["up", "--"])
    assert {"--wait", "--timeout", "--instance", "--var", "--file", "--debug"} <= set(got)


def test_a_broken_stack_file_completes_nothing_and_never_fails(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: [unclosed\n")
    assert candidates(["-f", str(bad), "up", ""]) == []


def test_the_bash_script_completes_environments_for_real(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    assert bash
    shim = tmp_path / "envkit"  # `envkit` on PATH runs this checkout's envkit
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m envkit "$@"\n')
    shim.chmod(0o755)
    script = SCRIPTS["bash"] + (
        f'COMP_WORDS=(envkit -f {WEB} up ""); COMP_CWORD=4; _envkit\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
        f"COMP_WORDS=(envkit -f {WEB} up d); COMP_CWORD=4; _envkit\n"
        'printf "only:%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        [bash, "-c", script],
        capture_output=True,
        text=True,
        env={"PATH": f"{tmp_path}:/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).parents[2])},
        check=True,
    )
    assert done.stdout.split() == ["dev", "test", "ci", "only:dev"]


@pytest.mark.parametrize("shell", sorted(SCRIPTS))
def test_completion_command_prints_the_script(shell: str) -> None:
    import io

    from envkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    assert main(["completion", shell], stdout=out, stderr=err) == 0
    assert out.getvalue().rstrip("\n") == SCRIPTS[shell].rstrip("\n")

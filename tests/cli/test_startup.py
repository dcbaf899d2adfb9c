"""`envkit --help` and `envkit validate` must not pay for the docker SDK (start-up budget),
and nothing pays for rich (the live display) unless stderr is a terminal."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import io, sys
from envkit.cli import main
code = main(sys.argv[1:], stdout=io.StringIO(), stderr=io.StringIO())
heavy = sorted(m for m in ("docker", "requests", "urllib3", "rich") if m in sys.modules)
print(code, ",".join(heavy) or "-")
"""


def probe(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_help_does_not_import_docker() -> None:
    assert probe("--help") == "0 -"


def test_validate_does_not_import_docker(tmp_path: Path) -> None:
    stack = tmp_path / "envkit.yaml"
    stack.write_text(
        "stack: s\nenvironments: {dev: {}}\nservices:\n  web: {image: 'busybox:latest'}\n"
    )
    assert probe("-f", str(stack), "validate") == "0 -"


def test_progress_off_a_terminal_does_not_import_rich() -> None:
    """What ``up``/``down`` do with stderr: a pipe or a file gets plain lines, no rich."""
    probe = (
        "import io, sys\n"
        "from envkit.cli.display import reporter_for\n"
        "from envkit.progress import Kind, Outcome, Subject\n"
        "err = io.StringIO()\n"
        "with reporter_for(err) as display:\n"
        "    display.step(Subject(Kind.NETWORK, 'n'), 'created', Outcome.CREATED)\n"
        "print(type(display).__name__, 'rich' in sys.modules, err.getvalue().splitlines()[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "LineReporter False n: created"


def test_console_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "envkit", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.startswith("envkit ")

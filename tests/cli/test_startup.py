"""`envkit --help` and `envkit validate` must not pay for the docker SDK (start-up budget)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROBE = """
import io, sys
from envkit.cli import main
code = main(sys.argv[1:], stdout=io.StringIO(), stderr=io.StringIO())
heavy = sorted(m for m in ("docker", "requests", "urllib3") if m in sys.modules)
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


def test_console_script_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "envkit", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert done.stdout.startswith("envkit ")

"""`envkit --help` and `envkit validate` must not pay for the docker SDK (start-up budget),
an envkit stack file not for Compose's interpolation, a valid one not for difflib's
suggestions, and nothing pays for rich (the live display) unless stderr is a terminal."""

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
optional = ("envkit.stackfile.composevars", "envkit.stackfile.composeenv",
            "envkit.stackfile.interpolation_tree", "difflib", "envkit.stackfile.hostaccess")
print(",".join(m for m in optional if m in sys.modules) or "-")
"""


def probe(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[0]


def loaded_on_demand(*argv: str) -> str:
    """Which of the modules only some inputs need ``envkit ARGV`` imported."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    )
    return done.stdout.strip().splitlines()[1]


def test_help_does_not_import_docker() -> None:
    assert probe("--help") == "0 -"


def test_validate_does_not_import_docker(tmp_path: Path) -> None:
    stack = tmp_path / "envkit.yaml"
    stack.write_text(
        "stack: s\nenvironments: {dev: {}}\nservices:\n  web: {image: 'busybox:latest'}\n"
    )
    assert probe("-f", str(stack), "validate") == "0 -"


def test_validate_of_an_envkit_stack_loads_no_compose_module(tmp_path: Path) -> None:
    stack = tmp_path / "envkit.yaml"
    stack.write_text(
        "stack: s\nvars: {tag: '1'}\nenvironments: {dev: {}}\n"
        "services:\n  web: {image: 'busybox:{{ tag }}'}\n"
    )
    assert loaded_on_demand("-f", str(stack), "validate") == "-"
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  web: {image: 'busybox:${TAG:-1}'}\n")
    assert "envkit.stackfile.composevars" in loaded_on_demand("-f", str(compose), "validate")
    assert "difflib" in loaded_on_demand("-f", str(stack), "validate", "nope")


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


EXIT_PROBE = """
import atexit, sys
from envkit.cli.main import leave

class Noisy:
    def __del__(self):
        print("torn down", flush=True)

kept = Noisy()  # freed only when the interpreter is torn down
atexit.register(lambda: print("atexit ran"))
print("output", end="")  # buffered: must reach the pipe
if sys.argv[1] == "thread":
    import threading
    threading.Thread(target=lambda: None, daemon=True).start()
    threading.Timer(0.2, lambda: None).start()
leave(int(sys.argv[2]))
"""


def test_the_process_leaves_without_tearing_down_but_runs_atexit() -> None:
    done = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, "plain", "3"], capture_output=True, text=True
    )
    assert (done.returncode, done.stdout) == (3, "outputatexit ran\n")


def test_a_live_thread_gets_a_normal_exit() -> None:
    done = subprocess.run(
        [sys.executable, "-c", EXIT_PROBE, "thread", "2"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stdout == "outputatexit ran\ntorn down\n"


def test_python_m_envkit_exit_codes_and_output() -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "envkit", "--version"], capture_output=True, text=True
    )
    assert (ok.returncode, ok.stdout.startswith("envkit ")) == (0, True)
    bad = subprocess.run(
        [sys.executable, "-m", "envkit", "-f", "/nonexistent/envkit.yaml", "validate"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "error" in bad.stderr

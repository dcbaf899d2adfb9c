"""The command line: ``main(argv) -> int``, the one place errors become exit codes.

Exit codes: 0 success; 1 an operation failed (engine, conflict, apply, lock); 2 the input
is wrong (stack file, variables, command line) — and for ``plan --detailed-exitcode``,
2 means "there are changes"; 130 interrupted. A traceback is shown only with ``--debug``.

Start-up matters (``envkit --help``, ``envkit validate`` run in editors and hooks): this
module imports only the standard library and ``envkit.errors`` at import time; every
command imports what it needs when it runs, and nothing but engine commands import the
docker SDK.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from envkit import __version__
from envkit.cli.arguments import Parser
from envkit.cli.console import Console
from envkit.errors import EnvkitError, UsageError
from envkit.hints import did_you_mean

__all__ = ["main"]

ERROR_FORMAT_VERSION = 1


GLOBAL_HELP = """\
global options (before or after the command):
  -f, --file FILE   stack file (default: ./envkit.yaml; or $ENVKIT_FILE)
  --debug           show tracebacks for errors
  --version         print the version
  -h, --help        this help; 'envkit COMMAND --help' for a command's options
"""


@dataclass(frozen=True, slots=True)
class _Globals:
    file: str | None
    debug: bool
    command: str | None
    rest: list[str]
    help: bool
    version: bool


def _split(argv: list[str]) -> _Globals:
    """Global options before the command, the command, and everything after it (which the
    command's own parser reads, global options included)."""
    file: str | None = None
    debug = help_ = version = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-f", "--file"):
            if i + 1 >= len(argv):
                raise UsageError(f"argument {arg}: expected a file", hint=_USAGE_HINT)
            file, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--file="):
            file = arg.partition("=")[2]
        elif arg.startswith("-f") and len(arg) > 2 and not arg.startswith("--"):
            file = arg[2:]
        elif arg == "--debug":
            debug = True
        elif arg in ("-h", "--help"):
            help_ = True
        elif arg == "--version":
            version = True
        elif arg.startswith("-"):
            raise UsageError(f"unknown option {arg!r} before the command", hint=_USAGE_HINT)
        else:
            return _Globals(file, debug, arg, argv[i + 1 :], help_, version)
        i += 1
    return _Globals(file, debug, None, [], help_, version)


_USAGE_HINT = "run 'envkit --help' for usage"


def _top_help() -> str:
    from envkit.cli.table import COMMANDS

    width = max(len(n) for n in COMMANDS) + 2
    lines = [
        "usage: envkit [-f FILE] [--debug] COMMAND [ARGS...]",
        "",
        "Declarative environments for Docker: one stack file, many environments.",
        "",
        "commands:",
        *(f"  {name:<{width}}{info.summary}" for name, info in COMMANDS.items()),
        "",
        GLOBAL_HELP,
    ]
    return "\n".join(lines)


def build_parser(name: str) -> argparse.ArgumentParser:
    """The parser of one command: its own arguments, then the global options (``-f`` only
    where the command does not use it itself, as ``logs -f`` does; ``--file`` always)."""
    from envkit.cli.table import COMMANDS

    info = COMMANDS[name]
    parser = Parser(prog=f"envkit {name}", description=info.description or info.summary)
    info.arguments(parser)
    flags = ["--file"] if "-f" in parser._option_string_actions else ["-f", "--file"]
    group = parser.add_argument_group("global options")
    group.add_argument(*flags, dest="file", default=None, metavar="FILE", help="stack file")
    group.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    return parser


def _command(name: str) -> str:
    from envkit.cli.table import COMMANDS

    if name in COMMANDS:
        return name
    hint = did_you_mean(name, COMMANDS) or "run 'envkit --help' for the commands"
    raise UsageError(f"unknown command {name!r}", hint=hint)


def _parse(argv: list[str], console: Console) -> tuple[argparse.Namespace | None, int]:
    """The parsed arguments, or None and an exit code when there is nothing to run
    (help, version, no command)."""
    g = _split(argv)
    if g.version:
        console.out(f"envkit {__version__}")
        return None, 0
    if g.command is None:
        if g.help:
            console.out(_top_help())
            return None, 0
        console.err(_top_help())
        return None, 2
    name = _command(g.command)
    parser = build_parser(name)
    try:
        with contextlib.redirect_stdout(console.out_stream):
            args = parser.parse_args(g.rest + (["--help"] if g.help else []))
    except SystemExit as exc:  # --help
        return None, int(exc.code or 0)
    args.command = name
    args.file = args.file if args.file is not None else g.file
    args.debug = args.debug or g.debug
    return args, 0


def _traceback() -> str:
    import traceback  # only for --debug and bugs: it costs start-up time (textwrap)

    return traceback.format_exc().rstrip()


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    console = Console(stdout or sys.stdout, stderr or sys.stderr)
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        args, code = _parse(args_list, console)
        if args is None:
            return code
        from importlib import import_module

        from envkit.cli.table import COMMANDS

        info = COMMANDS[args.command]
        run: Callable[[argparse.Namespace, Console], int] = getattr(
            import_module(info.module), info.run
        )
        return run(args, console)
    except EnvkitError as exc:
        if debug:
            console.err(_traceback())
        console.err(exc.render())
        if "--json" in args_list and not console.printed_json:
            # A script reading stdout gets the error as the same family of document.
            console.out_json({"format_version": ERROR_FORMAT_VERSION, "error": exc.to_json()})
        return exc.exit_code
    except KeyboardInterrupt:
        console.err("interrupted; run the same command again to converge")
        return 130
    except BrokenPipeError:
        # e.g. `envkit ps | head`: the reader went away; nothing to report.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # the last line of defence: never a bare traceback
        if debug:
            console.err(_traceback())
        console.err(f"error[internal]: {type(exc).__name__}: {exc}")
        console.err(
            "  hint: this is a bug in envkit; run again with --debug and report the traceback"
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

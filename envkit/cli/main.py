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
from typing import NoReturn, TextIO

from envkit import __version__
from envkit.cli.console import Console
from envkit.errors import EnvkitError, UsageError
from envkit.hints import did_you_mean

__all__ = ["console_main", "leave", "main"]

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
    file: list[str] | None  # every -f, in order (several merge)
    debug: bool
    command: str | None
    rest: list[str]
    help: bool
    version: bool


def _split(argv: list[str]) -> _Globals:
    """Global options before the command, the command, and everything after it (which the
    command's own parser reads, global options included)."""
    files: list[str] = []
    debug = help_ = version = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-f", "--file"):
            if i + 1 >= len(argv):
                raise UsageError(f"argument {arg}: expected a file", hint=_USAGE_HINT)
            files.append(argv[i + 1])
            i += 2
            continue
        if arg.startswith("--file="):
            files.append(arg.partition("=")[2])
        elif arg.startswith("-f") and len(arg) > 2 and not arg.startswith("--"):
            files.append(arg[2:])
        elif arg == "--debug":
            debug = True
        elif arg in ("-h", "--help"):
            help_ = True
        elif arg == "--version":
            version = True
        elif arg.startswith("-"):
            raise UsageError(f"unknown option {arg!r} before the command", hint=_USAGE_HINT)
        else:
            return _Globals(files or None, debug, arg, argv[i + 1 :], help_, version)
        i += 1
    return _Globals(files or None, debug, None, [], help_, version)


_USAGE_HINT = "run 'envkit --help' for usage"


def _top_help() -> str:
    from envkit.cli.table import COMMANDS

    width = max(len(n) for n in COMMANDS) + 2
    lines = [
        "usage: envkit [-f FILE]... [--debug] COMMAND [ARGS...]",
        "",
        "Declarative environments for Docker: one stack file, many environments.",
        "",
        "commands:",
        *(f"  {name:<{width}}{info.summary}" for name, info in COMMANDS.items()),
        f"  {'completion':<{width}}print the shell completion script (bash, zsh, fish)",
        "",
        GLOBAL_HELP,
    ]
    return "\n".join(lines)


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
    if g.command == "__complete":  # the shell completion scripts' hook; not in --help
        from envkit.cli.completion import candidates

        for word in candidates(g.rest):
            console.out(word)
        return None, 0
    if g.command == "completion":
        from envkit.cli.completion import SCRIPTS

        if len(g.rest) != 1 or g.rest[0] not in SCRIPTS:
            raise UsageError(
                "usage: envkit completion bash|zsh|fish",
                hint='bash: eval "$(envkit completion bash)"; zsh: eval "$(envkit completion '
                'zsh)"; fish: envkit completion fish | source',
            )
        console.out(SCRIPTS[g.rest[0]].rstrip("\n"))
        return None, 0
    name = _command(g.command)
    from envkit.cli.table import build_parser

    parser = build_parser(name)
    try:
        with contextlib.redirect_stdout(console.out_stream):
            args = parser.parse_args(g.rest + (["--help"] if g.help else []))
    except SystemExit as exc:  # --help
        return None, int(exc.code or 0)
    args.command = name
    args.file = [*(g.file or []), *(args.file or [])] or None
    args.debug = args.debug or g.debug
    args.debug_log = console.err if args.debug else None
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


def console_main() -> NoReturn:
    """The process entry (``python -m envkit``, the ``envkit`` console script): :func:`main`,
    then :func:`leave`."""
    leave(main())


def leave(code: int) -> NoReturn:
    """End the process with ``code`` without tearing the interpreter down: atexit handlers
    run and the standard streams are flushed, as at a normal exit, then ``os._exit`` skips
    freeing every module and object one by one, which cost 30 ms of ``validate``'s start-up
    budget and up to 0.3 s after a ``down`` on a busy machine. A normal exit instead when
    anything might need it: another thread still alive, a profiler or tracer (coverage,
    ``-m cProfile``) that reports at exit, or a stream that cannot be flushed (a closed
    pipe, handled as Python handles it)."""
    threading = sys.modules.get("threading")  # not imported: no other thread
    others = threading is not None and threading.active_count() > 1
    if others or sys.getprofile() is not None or sys.gettrace() is not None:
        sys.exit(code)
    import atexit

    atexit._run_exitfuncs()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)
    os._exit(code)

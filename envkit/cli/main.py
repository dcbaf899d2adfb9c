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
import traceback
from collections.abc import Sequence
from typing import TextIO

from envkit import __version__
from envkit.cli.console import Console
from envkit.errors import EnvkitError, UsageError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so main() maps it like the rest."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint=f"run '{self.prog} --help' for usage")


def _var(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return name, value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="envkit",
        description="Declarative environments for Docker: one stack file, many environments.",
    )
    parser.add_argument(
        "-f",
        "--file",
        action="append",
        default=None,
        metavar="FILE",
        help="stack file; repeat to merge several with Compose's rules (default: "
        "./envkit.yaml, else ./compose.yaml, compose.yml, docker-compose.yml, "
        "docker-compose.yaml with its override file)",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--version", action="version", version=f"envkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def env_parser(name: str, help: str, *, env_optional: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        if env_optional:
            p.add_argument(
                "env",
                nargs="?",
                metavar="ENV",
                help="environment name (optional when the stack has only one)",
            )
        else:
            p.add_argument("env", metavar="ENV", help="environment name")
        return p

    def add_render_options(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--var",
            action="append",
            type=_var,
            default=[],
            metavar="KEY=VALUE",
            help="set a variable (highest precedence; repeatable)",
        )
        p.add_argument(
            "--instance", metavar="ID", help="an independent instance of the environment"
        )
        add_profile_option(p)

    def add_profile_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--profile",
            action="append",
            default=[],
            metavar="NAME",
            help="activate a Compose profile (repeatable; also COMPOSE_PROFILES)",
        )

    p: argparse.ArgumentParser = sub.add_parser(
        "validate",
        help="check the stack file and every (or the named) environment",
        description="Check the stack file and render every (or each named) environment.",
    )
    p.add_argument("envs", nargs="*", metavar="ENV")
    p.add_argument("--var", action="append", type=_var, default=[], metavar="KEY=VALUE")
    add_profile_option(p)
    p.add_argument("--json", action="store_true", help="machine-readable result on stdout")

    p = env_parser(
        "render", "print the resolved desired state of an environment", env_optional=True
    )
    add_render_options(p)
    p.add_argument("--json", action="store_true", help="JSON instead of YAML")
    p.add_argument(
        "--explain",
        action="store_true",
        help="show each variable's value, layer and origin instead",
    )

    p = env_parser("plan", "show what 'up' would change", env_optional=True)
    add_render_options(p)
    p.add_argument("--json", action="store_true", help="the plan as JSON on stdout")
    p.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when there are no changes, 2 when there are, 1 on error",
    )

    p = env_parser(
        "up", "make the engine match the environment (plan, then apply)", env_optional=True
    )
    add_render_options(p)
    p.add_argument(
        "--wait",
        action="store_true",
        help="wait until every service is healthy (or running without a healthcheck)",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds to wait for each start/health condition (default 300)",
    )
    p.add_argument(
        "--lock-timeout",
        type=float,
        default=600.0,
        metavar="S",
        help="seconds to wait for another envkit working on this instance (default 600)",
    )
    p.add_argument("--json", action="store_true", help="print the instance's services as JSON")
    p.add_argument(
        "-V",
        "--renew-anon-volumes",
        action="store_true",
        help="recreated containers get new anonymous volumes instead of keeping the old "
        "ones' (data in them is left behind; down --volumes removes it)",
    )
    p.add_argument(
        "--ephemeral",
        action="store_true",
        help="a new instance with a unique id (printed on stdout, or in the JSON)",
    )
    p.add_argument(
        "--ttl",
        metavar="D",
        help="expire the instance D from now (90s, 15m, 2h, 1d); 'envkit gc' removes it "
        "then. Running up --ttl again extends it",
    )

    p = env_parser("down", "remove the environment's containers and network", env_optional=True)
    add_render_options(p)
    p.add_argument("--volumes", action="store_true", help="also remove its named volumes (data!)")
    p.add_argument("--lock-timeout", type=float, default=600.0, metavar="S")

    p = env_parser("ps", "list instances and their services", env_optional=True)
    p.add_argument("--instance", metavar="ID")
    p.add_argument("--all", action="store_true", help="every envkit project on the engine")
    p.add_argument("--json", action="store_true")

    p = env_parser("logs", "print a service's logs")
    p.add_argument("service", nargs="?", metavar="SERVICE")
    p.add_argument("--instance", metavar="ID")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("--tail", type=int, default=None, metavar="N")

    p = env_parser("port", "print the host address of a published port")
    p.add_argument("service", metavar="SERVICE")
    p.add_argument("port", metavar="PORT[/PROTO]")
    p.add_argument("--instance", metavar="ID")
    p.add_argument("--index", type=int, default=1, metavar="N", help="replica number (default 1)")

    p = env_parser(
        "env",
        "print an instance's addresses as shell variables (ENVKIT_DB_3306=...)",
        env_optional=True,
    )
    add_render_options(p)
    p.add_argument(
        "--format",
        choices=("shell", "json"),
        default="shell",
        help="shell: export lines for eval (default); json: one object",
    )

    p = sub.add_parser(
        "gc",
        help="remove expired instances of every stack on the engine",
        description="Remove expired envkit instances (containers, network, volumes) of every "
        "stack on the engine. Never touches anything without envkit's labels, nor an instance "
        "without an expiry unless --older-than with --include-unexpiring says so.",
    )
    p.add_argument("--dry-run", action="store_true", help="print what would be removed")
    p.add_argument(
        "--older-than",
        metavar="D",
        help="also remove instances (with an expiry) whose newest container is older than D",
    )
    p.add_argument(
        "--include-unexpiring",
        action="store_true",
        help="with --older-than: instances without an expiry too",
    )
    p.add_argument("--json", action="store_true", help="what was removed, as JSON on stdout")
    p.add_argument(
        "--lock-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait for an envkit working on an instance before skipping it",
    )

    p = sub.add_parser(
        "bundle",
        help="move an environment's images as one verified file (no registry needed)",
        description="Save an environment's images, stack file and env files into one "
        "verified, compressed file; inspect, load or push it where there is no internet.",
    )
    bundle = p.add_subparsers(dest="bundle_command", metavar="SUBCOMMAND", parser_class=_Parser)
    bundle.required = True
    b = bundle.add_parser("save", help="write every image ENV needs, its stack and a manifest")
    b.add_argument("env", metavar="ENV", help="environment name")
    add_render_options(b)
    b.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="the bundle to write (default: {stack}-{env}_{YYYYMMDD}.envkit.tar.gz)",
    )
    b.add_argument(
        "--zstd", action="store_true", help="zstd (multi-threaded, faster) instead of gzip"
    )
    b.add_argument(
        "--include-secrets",
        action="store_true",
        help="keep the values of the env files (left out by default)",
    )
    b = bundle.add_parser("load", help="verify a bundle, then load its images into the engine")
    b.add_argument("bundle", metavar="FILE")
    b.add_argument("--extract", metavar="DIR", help="also write the bundle's stack files into DIR")
    b.add_argument("--force", action="store_true", help="with --extract: overwrite files")
    b = bundle.add_parser("inspect", help="verify a bundle and list its contents (no loading)")
    b.add_argument("bundle", metavar="FILE")
    b.add_argument("--json", action="store_true", help="the manifest as JSON on stdout")
    b = bundle.add_parser("push", help="push a bundle's images into a private registry")
    b.add_argument("bundle", metavar="FILE")
    b.add_argument(
        "--registry",
        required=True,
        metavar="HOST:PORT",
        help="the registry; set `registry: HOST:PORT` on the environment to pull from it",
    )
    return parser


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    console = Console(stdout or sys.stdout, stderr or sys.stderr)
    args_list = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args_list
    try:
        parser = build_parser()
        if not args_list:
            parser.print_help(console.err_stream)
            return 2
        try:
            with contextlib.redirect_stdout(console.out_stream):
                args = parser.parse_args(args_list)
        except SystemExit as exc:  # --help, --version
            return int(exc.code or 0)
        if args.command is None:
            raise UsageError("no command given", hint="run 'envkit --help' for the commands")
        from envkit.cli import commands

        return commands.run(args, console)
    except EnvkitError as exc:
        if debug:
            console.err(traceback.format_exc().rstrip())
        console.err(exc.render())
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
            console.err(traceback.format_exc().rstrip())
        console.err(f"error[internal]: {type(exc).__name__}: {exc}")
        console.err(
            "  hint: this is a bug in envkit; run again with --debug and report the traceback"
        )
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Argument pieces shared by several commands, and the parser that raises instead of
exiting, so ``main`` maps a bad command line like every other error."""

from __future__ import annotations

import argparse

from envkit.errors import UsageError

__all__ = [
    "Parser",
    "add_engine",
    "add_env",
    "add_profile",
    "add_render_options",
    "expiry_and_instance",
    "var",
]


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError instead of exiting, so main() maps it like the rest."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, hint=f"run '{self.prog} --help' for usage")


def var(text: str) -> tuple[str, str]:
    """``--var KEY=VALUE``. The value is never echoed back: it may be a secret."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError("expected KEY=VALUE")
    return name, value


def add_env(p: argparse.ArgumentParser, *, optional: bool = False, single: bool = False) -> None:
    """``optional``: the command acts on every environment without ENV. ``single``: ENV
    may be left out when the stack has only one environment (a Compose file's implicit
    ``default``; ``envkit.cli.commands.common.only_environment``)."""
    if optional or single:
        shown = " (optional when the stack has only one)" if single else ""
        p.add_argument("env", nargs="?", metavar="ENV", help=f"environment name{shown}")
    else:
        p.add_argument("env", metavar="ENV", help="environment name")


def add_var(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--var",
        action="append",
        type=var,
        default=[],
        metavar="KEY=VALUE",
        help="set a variable (highest precedence; repeatable)",
    )


def add_instance(p: argparse.ArgumentParser) -> None:
    p.add_argument("--instance", metavar="ID", help="an independent instance of the environment")


def add_profile(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="NAME",
        help="activate a Compose profile (repeatable; also COMPOSE_PROFILES)",
    )


def add_env_file(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--env-file",
        action="append",
        default=[],
        metavar="FILE",
        help="read Compose's ${VAR} values from FILE instead of the project's .env "
        "(repeatable; the process environment still wins)",
    )


def add_render_options(p: argparse.ArgumentParser) -> None:
    add_var(p)
    add_instance(p)
    add_profile(p)
    add_env_file(p)


def add_engine(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--engine",
        metavar="ADDRESS|CONTEXT",
        help=f"{what} (unix:///PATH, tcp://HOST:2376, ssh://USER@HOST or a docker context; "
        "default: DOCKER_HOST, else the local socket)",
    )


def expiry_and_instance(args: argparse.Namespace) -> str | None:
    """``up``'s ``--ttl`` as the RFC 3339 expiry to stamp (None without it); and
    ``--ephemeral``, which excludes ``--instance``, made into a new ``args.instance``."""
    from envkit.reconcile.expiry import expires_at
    from envkit.stackfile.instances import new_instance_id

    if args.ephemeral:
        if args.instance is not None:
            raise UsageError(
                "--ephemeral and --instance exclude each other",
                hint="--ephemeral makes a new instance id; --instance ID names one",
            )
        args.instance = new_instance_id()
    return expires_at(args.ttl) if args.ttl is not None else None

"""The arguments of the lifecycle commands (logs, exec, run, stop, start, restart, kill,
pause, unpause, top, images, pull, build, cp, events, volumes), for the command table."""

from __future__ import annotations

import argparse

from envkit.cli.argtypes import (
    moment,
    non_negative_duration,
    non_negative_int,
    positive_int,
    published_port,
)
from envkit.cli.arguments import add_env, add_render_options, var

__all__ = [
    "cp_arguments",
    "events_arguments",
    "exec_arguments",
    "kill_arguments",
    "logs_arguments",
    "run_arguments",
    "service_arguments",
    "stop_arguments",
    "volumes_arguments",
]


def logs_arguments(p: argparse.ArgumentParser) -> None:
    service_arguments(p)
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument(
        "--tail",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="only the last N lines of each container (with -f: then the new ones)",
    )
    p.add_argument(
        "--since",
        type=moment,
        default=None,
        metavar="WHEN",
        help="only lines after WHEN: a duration ago (10m, 1h30m) or an RFC 3339 time",
    )
    p.add_argument(
        "--until",
        type=moment,
        default=None,
        metavar="WHEN",
        help="only lines before WHEN: a duration ago (10m) or an RFC 3339 time",
    )
    p.add_argument(
        "-t", "--timestamps", action="store_true", help="show each line's time (RFC 3339)"
    )
    p.add_argument(
        "--no-log-prefix",
        action="store_true",
        help="do not prefix the lines of several containers with their name",
    )


def service_arguments(p: argparse.ArgumentParser, *, index: bool = True) -> None:
    add_env(p)
    p.add_argument("services", nargs="*", metavar="SERVICE", help="services (default: all)")
    add_render_options(p)
    if index:
        p.add_argument(
            "--index",
            type=positive_int,
            default=None,
            metavar="N",
            help="only replica N of each service (default: every replica)",
        )


def stop_arguments(p: argparse.ArgumentParser) -> None:
    service_arguments(p)
    p.add_argument(
        "-t",
        "--timeout",
        type=non_negative_duration,
        default=None,
        metavar="S",
        help="seconds to wait for a clean stop before killing (default: the service's "
        "stop_grace_period, else 10)",
    )


def kill_arguments(p: argparse.ArgumentParser) -> None:
    service_arguments(p)
    p.add_argument(
        "-s",
        "--signal",
        default="SIGKILL",
        metavar="SIG",
        help="the signal to send, by name (SIGTERM, HUP) or number (default SIGKILL)",
    )


def exec_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p)
    p.add_argument("service", metavar="SERVICE", help="the service to run the command in")
    p.add_argument(
        "exec_command",  # not "command": main() keeps the command's name there
        nargs=argparse.REMAINDER,
        metavar="COMMAND...",
        help="the command and its arguments (options of envkit go before SERVICE)",
    )
    add_render_options(p)
    p.add_argument(
        "--index", type=positive_int, default=1, metavar="N", help="replica number (default 1)"
    )
    _command_options(p)


def run_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p)
    p.add_argument("service", metavar="SERVICE", help="the service whose config to run with")
    p.add_argument(
        "run_command",
        nargs=argparse.REMAINDER,
        metavar="COMMAND...",
        help="the command (default: the service's); options of envkit go before SERVICE",
    )
    add_render_options(p)
    p.add_argument("--rm", action="store_true", help="remove the container when it ends")
    p.add_argument(
        "--no-deps", action="store_true", help="do not bring up the services it depends on"
    )
    p.add_argument(
        "-p",
        "--publish",
        action="append",
        type=published_port,
        default=[],
        metavar="[IP:][HOST:]CONTAINER[/PROTO]",
        help="publish a port (repeatable); the service's own ports are not published",
    )
    _command_options(p)


def cp_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p)
    p.add_argument("source", metavar="SRC", help="SERVICE:PATH in the container, or a host path")
    p.add_argument(
        "destination", metavar="DST", help="a host path, or SERVICE:PATH in the container"
    )
    add_render_options(p)
    p.add_argument(
        "--index", type=positive_int, default=1, metavar="N", help="replica number (default 1)"
    )


def events_arguments(p: argparse.ArgumentParser) -> None:
    service_arguments(p, index=False)
    p.add_argument(
        "--since",
        type=moment,
        default=None,
        metavar="WHEN",
        help="also the events since WHEN: a duration ago (10m) or an RFC 3339 time",
    )
    p.add_argument(
        "--until",
        type=moment,
        default=None,
        metavar="WHEN",
        help="stop at WHEN (a duration ago, or an RFC 3339 time) instead of following",
    )
    p.add_argument("--json", action="store_true", help="one JSON object per line")


def volumes_arguments(p: argparse.ArgumentParser) -> None:
    add_env(p)
    add_render_options(p)
    p.add_argument(
        "--rm",
        action="store_true",
        help="remove the instance's named volumes (data!); refused while a container uses one",
    )
    p.add_argument(
        "-y", "--yes", action="store_true", help="with --rm: do not ask (a terminal asks)"
    )


def _command_options(p: argparse.ArgumentParser) -> None:
    """What exec and run share for the command they start: terminal, environment, user,
    working directory (Compose's -T, -e, -u, -w)."""
    p.add_argument(
        "-T",
        dest="no_tty",
        action="store_true",
        help="no terminal, even when stdin is one (for scripts and pipes)",
    )
    p.add_argument(
        "-e",
        "--env",
        dest="environment",
        action="append",
        type=var,
        default=[],
        metavar="KEY=VALUE",
        help="set an environment variable for the command (repeatable)",
    )
    p.add_argument("-u", "--user", metavar="USER", help="run as this user (name or uid[:gid])")
    p.add_argument("-w", "--workdir", metavar="DIR", help="working directory of the command")

"""The one command table: name -> where the command lives, what it does, its arguments.

In the manner of pip's ``commands_dict``: ``envkit --help`` lists the summaries without
importing any command; a command's module is imported only when that command runs (or
its ``--help`` is asked for), so start-up pays only for what is used.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from envkit.cli.arguments import Parser
from envkit.cli.command_args import (
    bundle_arguments,
    config_arguments,
    down_arguments,
    env_arguments,
    gc_arguments,
    graph_arguments,
    plan_arguments,
    port_arguments,
    ps_arguments,
    render_arguments,
    rollback_arguments,
    up_arguments,
    validate_arguments,
)
from envkit.cli.lifecycle_args import (
    cp_arguments,
    events_arguments,
    exec_arguments,
    kill_arguments,
    logs_arguments,
    run_arguments,
    service_arguments,
    stop_arguments,
    volumes_arguments,
)

__all__ = ["COMMANDS", "CommandInfo", "build_parser"]


@dataclass(frozen=True, slots=True)
class CommandInfo:
    module: str  # imported when the command runs
    run: str  # its function there: (args, console) -> exit code
    summary: str
    arguments: Callable[[argparse.ArgumentParser], None]
    description: str = ""


_LIFECYCLE = "envkit.cli.commands.lifecycle"
_STACKFILE = "envkit.cli.commands.stackfile"
_RECONCILE = "envkit.cli.commands.reconcile"
_INSPECT = "envkit.cli.commands.inspect"

COMMANDS: dict[str, CommandInfo] = {
    "validate": CommandInfo(
        _STACKFILE,
        "cmd_validate",
        "check the stack file and every (or the named) environment",
        validate_arguments,
        "Check the stack file and render every (or each named) environment.",
    ),
    "render": CommandInfo(
        _STACKFILE,
        "cmd_render",
        "print the resolved desired state of an environment",
        render_arguments,
    ),
    "config": CommandInfo(
        "envkit.cli.commands.config",
        "cmd_config",
        "print the rendered environment as a Compose file",
        config_arguments,
    ),
    "plan": CommandInfo(_RECONCILE, "cmd_plan", "show what 'up' would change", plan_arguments),
    "up": CommandInfo(
        _RECONCILE,
        "cmd_up",
        "make the engine match the environment (plan, then apply)",
        up_arguments,
    ),
    "down": CommandInfo(
        _RECONCILE, "cmd_down", "remove the environment's containers and network", down_arguments
    ),
    "rollback": CommandInfo(
        "envkit.cli.commands.swarm",
        "cmd_rollback",
        "return a Swarm environment to its state before the last up",
        rollback_arguments,
    ),
    "exec": CommandInfo(
        _LIFECYCLE, "cmd_exec", "run a command in a service's container", exec_arguments
    ),
    "run": CommandInfo(
        "envkit.cli.commands.run",
        "cmd_run",
        "run a one-off command in a new container of a service",
        run_arguments,
    ),
    "stop": CommandInfo(
        _LIFECYCLE, "cmd_stop", "stop services ('up' starts them again)", stop_arguments
    ),
    "start": CommandInfo(_LIFECYCLE, "cmd_start", "start stopped services", service_arguments),
    "restart": CommandInfo(_LIFECYCLE, "cmd_restart", "restart services", stop_arguments),
    "kill": CommandInfo(_LIFECYCLE, "cmd_kill", "send a signal to services", kill_arguments),
    "pause": CommandInfo(_LIFECYCLE, "cmd_pause", "pause services' processes", service_arguments),
    "unpause": CommandInfo(_LIFECYCLE, "cmd_unpause", "resume paused services", service_arguments),
    "top": CommandInfo(_LIFECYCLE, "cmd_top", "list the processes of services", service_arguments),
    "rm": CommandInfo(
        _RECONCILE,
        "cmd_down",
        "remove services' containers (like 'down SERVICE...')",
        down_arguments,
    ),
    "images": CommandInfo(
        "envkit.cli.commands.images",
        "cmd_images",
        "list the images an environment uses (id, size, present?)",
        partial(service_arguments, index=False),
    ),
    "pull": CommandInfo(
        "envkit.cli.commands.images",
        "cmd_pull",
        "pull services' images now",
        partial(service_arguments, index=False),
    ),
    "build": CommandInfo(
        "envkit.cli.commands.images",
        "cmd_build",
        "build services' images now",
        partial(service_arguments, index=False),
    ),
    "cp": CommandInfo(
        "envkit.cli.commands.copy",
        "cmd_cp",
        "copy files between the host and a service's container (SERVICE:PATH)",
        cp_arguments,
    ),
    "events": CommandInfo(
        "envkit.cli.commands.events",
        "cmd_events",
        "print the engine's events about an instance as they happen",
        events_arguments,
    ),
    "volumes": CommandInfo(
        "envkit.cli.commands.volumes",
        "cmd_volumes",
        "list an instance's volumes, or remove them (--rm)",
        volumes_arguments,
    ),
    "ps": CommandInfo(_INSPECT, "cmd_ps", "list instances and their services", ps_arguments),
    "logs": CommandInfo(
        "envkit.cli.commands.logs", "cmd_logs", "print the services' logs", logs_arguments
    ),
    "port": CommandInfo(
        _INSPECT, "cmd_port", "print the host address of a published port", port_arguments
    ),
    "env": CommandInfo(
        "envkit.cli.commands.env",
        "cmd_env",
        "print an instance's addresses as shell variables (ENVKIT_DB_3306=...)",
        env_arguments,
    ),
    "graph": CommandInfo(
        "envkit.cli.commands.graph",
        "cmd_graph",
        "draw the environment: services, dependencies, network, volumes, ports",
        graph_arguments,
    ),
    "gc": CommandInfo(
        "envkit.cli.commands.gc",
        "cmd_gc",
        "remove expired instances of every stack on the engine",
        gc_arguments,
        "Remove expired envkit instances (containers, network, volumes) of every stack on the "
        "engine. Never touches anything without envkit's labels, nor an instance without an "
        "expiry unless --older-than with --include-unexpiring says so.",
    ),
    "bundle": CommandInfo(
        "envkit.cli.commands.bundle",
        "cmd_bundle",
        "move an environment's images as one verified file (no registry needed)",
        bundle_arguments,
        "Save an environment's images, stack file and env files into one verified, compressed "
        "file; inspect, load or push it where there is no internet.",
    ),
}


def build_parser(name: str) -> argparse.ArgumentParser:
    """The parser of one command: its own arguments, then the global options (``-f`` only
    where the command does not use it itself, as ``logs -f`` does; ``--file`` always)."""
    info = COMMANDS[name]
    parser = Parser(prog=f"envkit {name}", description=info.description or info.summary)
    info.arguments(parser)
    flags = ["--file"] if "-f" in parser._option_string_actions else ["-f", "--file"]
    group = parser.add_argument_group("global options")
    group.add_argument(
        *flags,
        dest="file",
        action="append",
        default=None,
        metavar="FILE",
        help="stack file; repeat to merge several with Compose's rules (default: "
        "./envkit.yaml, else ./compose.yaml, compose.yml, docker-compose.yml or "
        "docker-compose.yaml with its override file)",
    )
    group.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    return parser

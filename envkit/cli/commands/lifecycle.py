"""``envkit stop|start|restart|kill|pause|unpause|top|exec ENV [SERVICE...]``: acting on
the containers of an environment (or instance) that are already there, like Compose's
commands of the same names. ``up`` is what makes them; these never create or remove."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import TYPE_CHECKING

from envkit.cli.commands.containers import docker_cli, select
from envkit.cli.commands.stackfile import table
from envkit.errors import EnvkitError, UsageError

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import ObservedContainer

__all__ = [
    "cmd_exec",
    "cmd_kill",
    "cmd_pause",
    "cmd_restart",
    "cmd_start",
    "cmd_stop",
    "cmd_top",
    "cmd_unpause",
]

# The stop timeout when the service sets no stop_grace_period (Docker's and Compose's).
_DEFAULT_STOP_S = 10.0


def _grace(args: argparse.Namespace, c: ObservedContainer) -> float:
    if getattr(args, "timeout", None) is not None:
        return float(args.timeout)
    recorded = c.spec.get("stop_grace_period_s")
    return float(recorded) if isinstance(recorded, int | float) else _DEFAULT_STOP_S


def cmd_stop(args: argparse.Namespace, console: Console) -> int:
    """Stop in reverse dependency order (dependents first), as Compose does; stopping a
    stopped container succeeds. ``up`` starts them again."""
    sel = select(args, console, args.services, index=args.index)
    for c in reversed(sel.containers):
        if c.state in ("running", "paused", "restarting"):
            sel.engine.stop_container(c.id, _grace(args, c))
            console.err(f"{c.name}: stopped")
        else:
            console.err(f"{c.name}: already {c.state}")
    return 0


def cmd_start(args: argparse.Namespace, console: Console) -> int:
    """Start stopped containers in dependency order (it does not wait for health: ``up
    --wait`` does)."""
    sel = select(args, console, args.services, index=args.index)
    for c in sel.containers:
        if c.state == "running":
            console.err(f"{c.name}: already running")
            continue
        if c.state == "paused":
            sel.engine.unpause_container(c.id)
        else:
            sel.engine.start_container(c.id)
        console.err(f"{c.name}: started")
    return 0


def cmd_restart(args: argparse.Namespace, console: Console) -> int:
    sel = select(args, console, args.services, index=args.index)
    for c in sel.containers:
        sel.engine.restart_container(c.id, _grace(args, c))
        console.err(f"{c.name}: restarted")
    return 0


def cmd_kill(args: argparse.Namespace, console: Console) -> int:
    """Send a signal to the running containers (``-s``, default SIGKILL); the others are
    named and skipped."""
    sel = select(args, console, args.services, index=args.index)
    sent = 0
    for c in sel.containers:
        if c.state not in ("running", "paused"):
            console.err(f"{c.name}: not running ({c.state}), skipped")
            continue
        sel.engine.kill_container(c.id, args.signal)
        sent += 1
        console.err(f"{c.name}: sent {args.signal}")
    if not sent:
        raise EnvkitError(
            "no running container to send a signal to",
            code="not-running",
            hint=f"start them with 'envkit start {args.env}'",
        )
    return 0


def cmd_pause(args: argparse.Namespace, console: Console) -> int:
    sel = select(args, console, args.services, index=args.index)
    for c in sel.containers:
        if c.state == "paused":
            console.err(f"{c.name}: already paused")
            continue
        if c.state != "running":
            raise EnvkitError(
                f"{c.name} is {c.state}: only a running container can be paused",
                code="not-running",
                hint=f"start it with 'envkit start {args.env} {c.service}'",
            )
        sel.engine.pause_container(c.id)
        console.err(f"{c.name}: paused")
    return 0


def cmd_unpause(args: argparse.Namespace, console: Console) -> int:
    sel = select(args, console, args.services, index=args.index)
    for c in sel.containers:
        if c.state != "paused":
            console.err(f"{c.name}: not paused ({c.state})")
            continue
        sel.engine.unpause_container(c.id)
        console.err(f"{c.name}: unpaused")
    return 0


def cmd_top(args: argparse.Namespace, console: Console) -> int:
    """The processes of each running container, one table per container."""
    sel = select(args, console, args.services, index=args.index)
    shown = 0
    for c in sel.containers:
        if c.state != "running":
            console.err(f"{c.name}: {c.state}, no processes")
            continue
        procs = sel.engine.top(c.id)
        if shown:
            console.out()
        console.out(c.name)
        console.out(table([procs.titles, *procs.rows]))
        shown += 1
    return 0


def cmd_exec(args: argparse.Namespace, console: Console) -> int:
    """Run a command in a service's running container; its exit code is envkit's.

    Like docker-compose 1.x, this hands the command to the ``docker`` CLI (``docker exec
    -i [-t]``) pointed at the same engine (it reads the same DOCKER_HOST/DOCKER_CONTEXT/TLS
    variables envkit does): it already relays a terminal (raw mode, window size, signals)
    and stdin both ways, which the SDK's exec socket would need a terminal relay for. A
    terminal is allocated when stdin is one, unless ``-T``."""
    sel = select(args, console, [args.service], index=args.index)
    c = sel.containers[0]
    if c.state != "running":
        raise EnvkitError(
            f"{c.name} is {c.state}, not running",
            code="not-running",
            hint=f"start it with 'envkit start {args.env} {args.service}' or 'envkit up'",
        )
    if not args.exec_command:
        raise UsageError(
            "exec needs a command", hint=f"e.g. envkit exec {args.env} {args.service} sh"
        )
    tty = not args.no_tty and sys.stdin.isatty()
    argv = [*docker_cli(sel.engine), "exec", "-i"] + (["-t"] if tty else [])
    for key, value in args.environment:
        argv += ["-e", f"{key}={value}"]
    if args.user:
        argv += ["-u", args.user]
    if args.workdir:
        argv += ["-w", args.workdir]
    argv += [c.id, *args.exec_command]
    sys.stdout.flush()
    try:
        return subprocess.call(argv, env=os.environ.copy())
    except KeyboardInterrupt:
        return 130

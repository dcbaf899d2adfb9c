"""``envkit plan``, ``envkit up`` and ``envkit down``: the reconciler's commands."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from envkit.commands.common import engine, resolve_env

if TYPE_CHECKING:
    from envkit.cli import Console


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    from envkit.plan import plan
    from envkit.present import plan_json, plan_text
    from envkit.reconcile import conflict_error

    desired = resolve_env(args, console).desired
    p = plan(desired, engine().observe(desired))
    if args.json:
        console.out(json.dumps(plan_json(p), indent=2))
    else:
        console.out(plan_text(p, conflicts=False))
    if p.conflicts:
        if args.json:
            return 1
        raise conflict_error(p)
    return 2 if (args.detailed_exitcode and p.has_changes) else 0


def cmd_up(args: argparse.Namespace, console: Console) -> int:
    from envkit.commands.inspect import status_json
    from envkit.present import plan_text
    from envkit.progress import reporter_for
    from envkit.reconcile import up

    desired = resolve_env(args, console).desired
    result = up(
        desired,
        engine(),
        reporter=reporter_for(console.err_stream, frozenset(console.secrets)),
        wait=args.wait,
        timeout_s=args.timeout,
        lock_timeout_s=args.lock_timeout,
        on_lock_wait=console.err,
        on_plan=lambda p: console.err(plan_text(p)),
    )
    for name in result.not_running:
        console.err(f"warning: {name} is not running (it exited after start)")
    if args.json:
        status = status_json(desired.project, desired.instance, result.containers)
        console.out(json.dumps(status, indent=2))
    return 0


def cmd_down(args: argparse.Namespace, console: Console) -> int:
    from envkit.progress import reporter_for
    from envkit.reconcile import down

    desired = resolve_env(args, console).desired
    down(
        desired,
        engine(),
        volumes=args.volumes,
        reporter=reporter_for(console.err_stream, frozenset(console.secrets)),
        lock_timeout_s=args.lock_timeout,
        on_lock_wait=console.err,
    )
    return 0

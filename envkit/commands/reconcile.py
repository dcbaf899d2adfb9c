"""``envkit plan``, ``envkit up`` and ``envkit down``: the reconciler's commands."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from envkit.commands.common import engine, resolve_env
from envkit.errors import ApplyError, PlanConflict

if TYPE_CHECKING:
    from envkit.cli import Console
    from envkit.plan import Plan


def _conflict_error(p: Plan) -> PlanConflict:
    lines = [
        f"  error[{c.code}]: {c.message}" + (f"\n    hint: {c.hint}" if c.hint else "")
        for c in p.conflicts
    ]
    n = len(p.conflicts)
    return PlanConflict(
        f"{p.project}: the plan has {n} conflict{'s' if n != 1 else ''}; nothing was changed",
        detail="\n".join(lines),
        hint="resolve the conflicts above, then run the command again",
    )


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    from envkit.plan import plan
    from envkit.present import plan_json, plan_text

    desired = resolve_env(args, console).desired
    p = plan(desired, engine().observe(desired))
    if args.json:
        console.out(json.dumps(plan_json(p), indent=2))
    else:
        console.out(plan_text(p, conflicts=False))
    if p.conflicts:
        if args.json:
            return 1
        raise _conflict_error(p)
    return 2 if (args.detailed_exitcode and p.has_changes) else 0


def cmd_up(args: argparse.Namespace, console: Console) -> int:
    from envkit.apply import apply
    from envkit.commands.inspect import status_json
    from envkit.lock import instance_lock
    from envkit.plan import Action, plan
    from envkit.present import plan_text
    from envkit.progress import reporter_for

    desired = resolve_env(args, console).desired
    eng = engine()
    reporter = reporter_for(console.err_stream, frozenset(console.secrets))
    with instance_lock(desired.project, timeout_s=args.lock_timeout, on_wait=console.err):
        p = plan(desired, eng.observe(desired))
        if p.conflicts:
            raise _conflict_error(p)
        console.err(plan_text(p))
        if p.has_changes or args.wait:
            apply(p, eng, reporter, wait=args.wait, timeout_s=args.timeout)
        if p.has_changes:
            # What runs must be what was planned: re-read the engine and plan again.
            after = plan(desired, eng.observe(desired))
            drift = [c for c in after.changes if c.action not in (Action.NOOP, Action.START)]
            if drift or after.conflicts:
                raise ApplyError(
                    f"{desired.project}: after apply the engine still differs from the stack",
                    detail=plan_text(after),
                    hint="run 'envkit up' again; if it persists, report it with --debug output",
                )
            for c in after.changes:
                if c.action is Action.START:
                    console.err(f"warning: {c.name} is not running (it exited after start)")
    if args.json:
        containers = eng.list_containers({"io.envkit.project": desired.project})
        console.out(
            json.dumps(status_json(desired.project, desired.instance, containers), indent=2)
        )
    return 0


def cmd_down(args: argparse.Namespace, console: Console) -> int:
    from envkit.apply import down
    from envkit.lock import instance_lock
    from envkit.progress import reporter_for

    desired = resolve_env(args, console).desired
    eng = engine()
    reporter = reporter_for(console.err_stream, frozenset(console.secrets))
    with instance_lock(desired.project, timeout_s=args.lock_timeout, on_wait=console.err):
        down(eng, desired, volumes=args.volumes, reporter=reporter)
    return 0

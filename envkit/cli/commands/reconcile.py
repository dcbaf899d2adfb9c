"""``envkit plan``, ``envkit up`` and ``envkit down``: the reconciler's commands."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from envkit.cli.commands.common import engine, resolve_env
from envkit.cli.commands.swarm import swarm_down, swarm_endpoint, swarm_plan, swarm_up

if TYPE_CHECKING:
    from envkit.cli.console import Console


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    from envkit.cli.display import reporter_for
    from envkit.reconcile.plan import plan
    from envkit.reconcile.present import plan_json, plan_text
    from envkit.reconcile.verbs import conflict_error, refresh_images
    from envkit.stackfile.hostaccess import host_access

    if (swarm := swarm_endpoint(args)) is not None:
        return swarm_plan(args, console, swarm)
    desired = resolve_env(args, console).desired
    eng = engine()
    with reporter_for(console.err_stream, frozenset(console.secrets), summary=False) as display:
        refresh_images(desired, eng, display)
    p = plan(desired, eng.observe(desired))
    access = host_access(desired)
    if args.json:
        document = plan_json(p)
        document["host_access"] = [
            {"service": a.service, "code": a.code, "message": a.what} for a in access
        ]
        console.out(json.dumps(document, indent=2))
    else:
        console.out(plan_text(p, conflicts=False))
        if access:
            console.out("\nHost access (refused by --strict):")
            console.out("\n".join(f"  ! {a.service}: {a.what}" for a in access))
    if p.conflicts:
        if args.json:
            return 1
        raise conflict_error(p)
    return 2 if (args.detailed_exitcode and p.has_changes) else 0


def cmd_up(args: argparse.Namespace, console: Console) -> int:
    """``--ephemeral``: a new instance id, printed on stdout at once (before anything can
    fail, so a script can always clean up), or carried in the JSON. ``--json``: the status
    document of ``envkit.reconcile.status`` plus ``expires`` (what ``--ttl`` set, else null); when up
    fails, a document with ``error: {code, message}`` instead of ``services``, and the
    usual error on stderr."""
    from envkit.cli.display import reporter_for
    from envkit.errors import EnvkitError, UsageError
    from envkit.reconcile.expiry import expires_at
    from envkit.reconcile.present import plan_text
    from envkit.reconcile.status import STATUS_FORMAT_VERSION, status_json
    from envkit.reconcile.verbs import up
    from envkit.stackfile.instances import new_instance_id

    if (swarm := swarm_endpoint(args)) is not None:
        return swarm_up(args, console, swarm)
    expires = expires_at(args.ttl) if args.ttl is not None else None
    if args.ephemeral:
        if args.instance is not None:
            raise UsageError(
                "--ephemeral and --instance exclude each other",
                hint="--ephemeral makes a new instance id; --instance ID names one",
            )
        args.instance = new_instance_id()
    desired = resolve_env(args, console).desired
    if args.ephemeral:
        console.err(f"instance {desired.instance} (project {desired.project})")
        if not args.json:
            console.out(str(desired.instance))
    try:
        # The display owns stderr until it closes: the plan and a lock wait go through it.
        with reporter_for(console.err_stream, frozenset(console.secrets)) as display:
            result = up(
                desired,
                engine(),
                reporter=display,
                wait=args.wait,
                timeout_s=args.timeout,
                lock_timeout_s=args.lock_timeout,
                on_lock_wait=display.note,
                on_plan=lambda p: display.note(plan_text(p)),
                expires=expires,
            )
    except EnvkitError as exc:
        if args.json:
            failed = {
                "format_version": STATUS_FORMAT_VERSION,
                "project": desired.project,
                "instance": desired.instance,
                "expires": expires,
                "error": {"code": exc.code, "message": exc.message},
            }
            console.out(json.dumps(failed, indent=2))
        raise
    for name in result.not_running:
        console.err(f"warning: {name} is not running (it exited after start)")
    if args.json:
        status = status_json(desired.project, desired.instance, result.containers)
        status["expires"] = result.expires
        console.out(json.dumps(status, indent=2))
    return 0


def cmd_down(args: argparse.Namespace, console: Console) -> int:
    from envkit.cli.display import reporter_for
    from envkit.reconcile.verbs import down

    if (swarm := swarm_endpoint(args)) is not None:
        return swarm_down(args, console, swarm)
    desired = resolve_env(args, console).desired
    secrets = frozenset(console.secrets)
    with reporter_for(console.err_stream, secrets, nothing="nothing to remove") as display:
        down(
            desired,
            engine(),
            volumes=args.volumes,
            reporter=display,
            lock_timeout_s=args.lock_timeout,
            on_lock_wait=display.note,
        )
    return 0

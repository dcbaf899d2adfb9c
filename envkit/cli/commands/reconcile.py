"""``envkit plan``, ``envkit up`` and ``envkit down``: the reconciler's commands."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from envkit.cli.commands.common import engine, resolve_env

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import Inventory


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    from envkit.cli.display import reporter_for
    from envkit.reconcile.plan import plan
    from envkit.reconcile.present import plan_json, plan_text
    from envkit.reconcile.verbs import conflict_error, refresh_images
    from envkit.secretkey import with_secret_key
    from envkit.stackfile.hostaccess import host_access

    desired = with_secret_key(resolve_env(args, console).desired)
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
        console.out_json(document)
    else:
        console.out(plan_text(p, conflicts=False, verbose=args.verbose))
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
    from envkit.reconcile.status import STATUS_FORMAT_VERSION
    from envkit.reconcile.verbs import up
    from envkit.stackfile.instances import new_instance_id

    expires = expires_at(args.ttl) if args.ttl is not None else None
    if args.ephemeral:
        if args.instance is not None:
            raise UsageError(
                "--ephemeral and --instance exclude each other",
                hint="--ephemeral makes a new instance id; --instance ID names one",
            )
        args.instance = new_instance_id()
    desired = resolve_env(args, console).desired
    eng = engine()
    if args.ephemeral:
        console.err(f"instance {desired.instance} (project {desired.project})")
        if not args.json:
            console.out(str(desired.instance))
    try:
        # The display owns stderr until it closes: the plan and a lock wait go through it.
        with reporter_for(console.err_stream, frozenset(console.secrets)) as display:
            result = up(
                desired,
                eng,
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
                "error": exc.to_json(),
            }
            console.out_json(failed)
        raise
    for name in result.not_running:
        console.err(f"warning: {name} is not running (it exited after start)")
    if args.json:
        from envkit.cli.commands.inspect import instance_document

        status = instance_document(eng, desired.project, desired.instance, list(result.containers))
        console.out_json(status)
    return 0


def cmd_down(args: argparse.Namespace, console: Console) -> int:
    from envkit.cli.display import reporter_for
    from envkit.reconcile.verbs import down

    desired = resolve_env(args, console).desired
    eng = engine()
    asks = args.volumes and not args.yes and sys.stdin.isatty() and console.err_is_tty
    if asks and not _confirm_volumes(eng, desired.project, console):
        console.err("nothing was removed")
        return 1
    secrets = frozenset(console.secrets)
    with reporter_for(console.err_stream, secrets, nothing="nothing to remove") as display:
        down(
            desired,
            eng,
            volumes=args.volumes,
            reporter=display,
            lock_timeout_s=args.lock_timeout,
            on_lock_wait=display.note,
        )
    return 0


def _confirm_volumes(eng: Inventory, project: str, console: Console) -> bool:
    """On a terminal, ``down --volumes`` names the volumes (the data) it will delete and asks
    first; ``--yes`` skips the question, and off a terminal it never asks."""
    from envkit.model import LABEL

    names = sorted(v.name for v in eng.list_volumes({LABEL.PROJECT: project}))
    if not names:
        return True
    console.err(f"down --volumes deletes {len(names)} volume{'s' if len(names) != 1 else ''}"
                " of " + project + " and the data in them:")  # fmt: skip
    for name in names:
        console.err(f"  - {name}")
    console.err_stream.write("Delete them? [y/N] ")
    console.err_stream.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")

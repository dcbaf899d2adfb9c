"""``envkit plan``, ``envkit up`` and ``envkit down``: the reconciler's commands."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from envkit.cli.commands.common import engine, resolve_env

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.model import DesiredState


def _scope(args: argparse.Namespace, desired: DesiredState) -> frozenset[str] | None:
    """``SERVICE...`` on plan/up: those services and what they depend on (None: all)."""
    from envkit.cli.commands.containers import check_services
    from envkit.reconcile.scope import with_dependencies

    if not args.services:
        return None
    check_services(desired, args.services)
    return with_dependencies(desired, args.services)


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    from envkit.cli.display import reporter_for
    from envkit.reconcile.plan import plan
    from envkit.reconcile.present import plan_json, plan_text
    from envkit.reconcile.scope import scope_desired, scope_observed
    from envkit.reconcile.verbs import conflict_error, refresh_images
    from envkit.stackfile.hostaccess import host_access

    desired = resolve_env(args, console).desired
    services = _scope(args, desired)
    if services is not None:
        desired = scope_desired(desired, services)
    eng = engine()
    with reporter_for(console.err_stream, frozenset(console.secrets), summary=False) as display:
        refresh_images(desired, eng, display)
    observed = eng.observe(desired)
    if services is not None:
        observed = scope_observed(observed, services)
    p = plan(desired, observed)
    access = host_access(desired)
    if args.json:
        document = plan_json(p)
        document["host_access"] = [
            {"service": a.service, "code": a.code, "message": a.what} for a in access
        ]
        console.out_json(document)
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
    services = _scope(args, desired)
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
                services=services,
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
    from envkit.cli.commands.containers import check_services
    from envkit.cli.display import reporter_for
    from envkit.errors import UsageError
    from envkit.reconcile.verbs import down

    desired = resolve_env(args, console).desired
    services = frozenset(args.services) if args.services else None
    if services is not None:
        check_services(desired, args.services)
        if args.volumes:
            raise UsageError(
                "--volumes removes the whole instance's named volumes: not with SERVICE...",
                hint=f"remove the services' containers first, then 'envkit down {args.env} "
                "--volumes' when the whole instance should go",
            )
    elif args.command == "rm":
        raise UsageError(
            "rm needs the services whose containers to remove",
            hint=f"e.g. 'envkit rm {args.env} web'; 'envkit down {args.env}' removes all",
        )
    secrets = frozenset(console.secrets)
    with reporter_for(console.err_stream, secrets, nothing="nothing to remove") as display:
        down(
            desired,
            engine(),
            volumes=args.volumes,
            reporter=display,
            lock_timeout_s=args.lock_timeout,
            on_lock_wait=display.note,
            services=services,
        )
    return 0

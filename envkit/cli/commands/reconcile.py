"""``envkit plan``, ``envkit up`` and ``envkit down``: the reconciler's commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from envkit.cli.commands.common import engine, resolve_env, stack_files
from envkit.cli.commands.swarm import swarm_down, swarm_endpoint, swarm_plan, swarm_up

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import Inventory, ObservedState
    from envkit.model import DesiredState
    from envkit.reconcile.changes import Plan


def _scope(args: argparse.Namespace, desired: DesiredState) -> frozenset[str] | None:
    """``SERVICE...`` on plan/up: those services and what they depend on (None: all)."""
    from envkit.cli.commands.containers import check_services
    from envkit.reconcile.scope import with_dependencies

    if not args.services:
        return None
    check_services(desired, args.services)
    return with_dependencies(desired, args.services)


def cmd_plan(args: argparse.Namespace, console: Console) -> int:
    if (swarm := swarm_endpoint(args)) is not None:  # before the container path's imports
        return swarm_plan(args, console, swarm)
    from envkit.cli.display import reporter_for
    from envkit.reconcile.plan import plan
    from envkit.reconcile.present import plan_json, plan_text
    from envkit.reconcile.pullcheck import with_pull_check
    from envkit.reconcile.scope import scope_desired, scope_observed
    from envkit.reconcile.verbs import conflict_error, refresh_images
    from envkit.secretkey import with_secret_key
    from envkit.stackfile.hostaccess import host_access

    desired = with_secret_key(resolve_env(args, console).desired)
    services = _scope(args, desired)
    if services is not None:
        desired = scope_desired(desired, services)
    eng = engine(desired)
    with reporter_for(console.err_stream, frozenset(console.secrets), summary=False) as display:
        refresh_images(desired, eng, display)
    observed = with_pull_check(desired, eng, eng.observe(desired))
    if services is not None:
        observed = scope_observed(observed, services)
    p = plan(desired, observed)
    access = host_access(desired)
    if args.out is not None:
        _save_plan(args, desired, p, observed, eng.identity)
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
    if (swarm := swarm_endpoint(args)) is not None:  # before the container path's imports
        return swarm_up(args, console, swarm)
    from envkit.cli.arguments import expiry_and_instance
    from envkit.cli.display import reporter_for
    from envkit.errors import EnvkitError
    from envkit.reconcile.present import plan_text
    from envkit.reconcile.status import STATUS_FORMAT_VERSION
    from envkit.reconcile.verbs import up

    expires = expiry_and_instance(args)
    verify = _saved_plan_check(args) if args.plan is not None else None
    desired = resolve_env(args, console).desired
    services = _scope(args, desired)
    eng = engine(desired)
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
                verify=verify,
                renew_anon_volumes=args.renew_anon_volumes,
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
    if (swarm := swarm_endpoint(args)) is not None:  # before the container path's imports
        return swarm_down(args, console, swarm)
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
    eng = engine(desired)
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
            services=services,
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


def _save_plan(
    args: argparse.Namespace,
    desired: DesiredState,
    p: Plan,
    observed: ObservedState,
    engine_id: str,
) -> None:
    """``plan -o FILE``: the saved plan ``up --plan FILE`` applies exactly (see
    :mod:`envkit.reconcile.savedplan`)."""
    import json
    import os
    from pathlib import Path

    from envkit.outputfile import write_private
    from envkit.reconcile.present import plan_json
    from envkit.reconcile.savedplan import saved_document
    from envkit.secretkey import load_key

    document = saved_document(
        load_key(),
        files=[os.path.abspath(f) for f in stack_files(args)],
        plan=p,
        observed=observed,
        plan_document=plan_json(p),
        cli_vars=dict(args.var),
        sensitive=desired.sensitive_values,
        engine=engine_id,
    )
    text = json.dumps(document, indent=2) + "\n"
    write_private(Path(args.out), text.encode("utf-8"), "a saved plan", "plan.json")


def _saved_plan_check(args: argparse.Namespace) -> Callable[[Plan, ObservedState], None]:
    """``up --plan FILE``: render what the plan was made from (its stack file, environment,
    instance and variables) and return the check that refuses unless the plan made under the
    lock is the saved one."""
    from envkit.errors import UsageError
    from envkit.reconcile.present import plan_json
    from envkit.reconcile.savedplan import check, check_vars, read_saved
    from envkit.secretkey import load_key

    saved = read_saved(_read_plan(args.plan), args.plan)
    for given, kept, what in (
        (args.env, saved.environment, "ENV"),
        (args.instance, saved.instance, "--instance"),
    ):
        if given is not None and given != kept:
            raise UsageError(
                f"{what} {given!r} differs from the saved plan's {kept!r}",
                code="stale-plan",
                hint="leave it out: a saved plan names its environment and instance",
            )
    if args.ephemeral:
        raise UsageError("--ephemeral and --plan exclude each other", code="usage")
    key = load_key()
    args.var = sorted(check_vars(key, saved, dict(args.var)).items())
    args.file, args.env, args.instance = list(saved.files), saved.environment, saved.instance

    def verify(p: Plan, observed: ObservedState) -> None:
        check(key, saved, p.desired, observed, plan_json(p), engine(p.desired).identity)

    return verify


def _read_plan(path: str) -> str:
    """A saved plan's text: a regular file of at most 4 MiB (never a FIFO or device)."""
    import os
    import stat

    from envkit.errors import UsageError

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise UsageError(
            f"--plan {path}: cannot be read ({exc.strerror})",
            code="bad-plan-file",
            hint="give the file 'envkit plan ENV -o FILE' wrote",
        ) from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > 4 << 20:
            raise UsageError(
                f"--plan {path}: not a saved plan (not a regular file of at most 4 MiB)",
                code="bad-plan-file",
                hint="give the file 'envkit plan ENV -o FILE' wrote",
            )
        data = os.read(fd, (4 << 20) + 1)
    finally:
        os.close(fd)
    return data.decode("utf-8", errors="replace")

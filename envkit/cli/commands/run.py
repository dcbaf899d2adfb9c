"""``envkit run ENV SERVICE [CMD...]``: a one-off container with the service's config on
the instance's network, like ``docker compose run``.

It is named ``{project}-{service}-run-{6 hex}`` and labelled ``io.envkit.oneoff=true``
with no replica label: ``up`` never plans or prunes it, ``ps`` and the service's
replicas never include it, and ``down`` and ``gc`` remove it with the instance. The
service's own ports are not published (a second copy would collide); ``-p`` publishes
what the run needs. Dependencies are brought up first (``up`` of just those services)
unless ``--no-deps``. The container is started and attached through the ``docker`` CLI
(``docker start -a -i``), as for ``exec``, so a terminal and stdin work and the exit code
is the command's.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

from envkit.canonical import project_labels
from envkit.cli.commands.common import engine, resolve_env
from envkit.cli.commands.containers import check_services, docker_cli
from envkit.errors import EngineError, EnvkitError
from envkit.model import LABEL, ResourceKind

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import Engine
    from envkit.model import DesiredState, ServiceSpec

__all__ = ["cmd_run", "oneoff_labels", "oneoff_spec"]


def oneoff_spec(spec: ServiceSpec, args: argparse.Namespace) -> ServiceSpec:
    """The service as the one-off runs it: the command line's command, extra environment,
    user, working directory and ports; one replica; no restart policy; no service ports."""
    environment = dict(spec.environment)
    environment.update(dict(args.environment))
    ports = tuple(p for group in args.publish for p in group)
    return replace(
        spec,
        command=tuple(args.run_command) if args.run_command else spec.command,
        environment=tuple(sorted(environment.items())),
        user=args.user or spec.user,
        working_dir=args.workdir or spec.working_dir,
        ports=ports,
        restart="no",
        replicas=1,
    )


def oneoff_labels(desired: DesiredState, spec: ServiceSpec) -> dict[str, str]:
    """The user's labels, then the instance's, the service and ``io.envkit.oneoff``; no
    replica, spec or spec-hash label (it is not a replica and is never diffed)."""
    labels = {k: v for k, v in spec.labels if not k.startswith(LABEL.PREFIX)}
    labels.update(project_labels(desired))
    labels[LABEL.SERVICE] = spec.name
    labels[LABEL.ONEOFF] = "true"
    return labels


def _infrastructure(eng: Engine, desired: DesiredState, spec: ServiceSpec) -> None:
    """Create the instance network and the named volumes the one-off mounts when missing,
    exactly as ``up`` would (apply of a plan with only those changes), refusing a
    same-named object envkit does not own."""
    from envkit.progress import NullReporter
    from envkit.reconcile.apply import apply
    from envkit.reconcile.changes import Plan
    from envkit.reconcile.plan import plan
    from envkit.reconcile.scope import scope_desired, scope_observed
    from envkit.reconcile.verbs import conflict_error

    scoped = scope_desired(desired, frozenset({spec.name}))
    p = plan(scoped, scope_observed(eng.observe(scoped), frozenset()))
    infra = Plan(
        replace(scoped, services=()),
        tuple(c for c in p.changes if c.kind is not ResourceKind.CONTAINER),
        tuple(c for c in p.conflicts if c.service is None),
    )
    if infra.conflicts:
        raise conflict_error(infra)
    if infra.has_changes:
        apply(infra, eng, NullReporter())


def _dependencies(
    args: argparse.Namespace, console: Console, eng: Engine, desired: DesiredState
) -> None:
    from envkit.cli.display import reporter_for
    from envkit.reconcile.scope import with_dependencies
    from envkit.reconcile.verbs import up

    deps = with_dependencies(desired, [args.service]) - {args.service}
    if args.no_deps or not deps:
        return
    with reporter_for(console.err_stream, frozenset(console.secrets)) as display:
        up(desired, eng, reporter=display, wait=True, on_lock_wait=display.note, services=deps)


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    desired = resolve_env(args, console).desired
    check_services(desired, [args.service])
    eng = engine(desired)
    docker = docker_cli(eng)
    _dependencies(args, console, eng, desired)
    spec = oneoff_spec(desired.service(args.service), args)
    _infrastructure(eng, desired, spec)
    eng.ensure_image(spec, on_output=console.err)
    name = f"{desired.project}-{spec.name}-run-{secrets.token_hex(3)}"
    tty = not args.no_tty and sys.stdin.isatty()
    cid = eng.create_container(
        desired, spec, 0, oneoff_labels(desired, spec), name=name, tty=tty, oneoff=True
    )
    console.err(f"{name}: created")
    sys.stdout.flush()
    try:
        code = subprocess.call([*docker, "start", "-a", "-i", cid], env=os.environ.copy())
    except KeyboardInterrupt:
        code = 130
    finally:
        if args.rm:
            eng.remove_container(cid)
    if code != 0 and eng_status_missing(eng, cid, args.rm):
        raise EnvkitError(f"{name} could not be started", code="run-failed")
    return code


def eng_status_missing(eng: Engine, cid: str, removed: bool) -> bool:
    """Whether the container never ran (``docker start`` failed before the command): only
    known when it is still there."""
    if removed:
        return False
    try:
        status = eng.status(cid)
    except EngineError:
        return True
    return status.state == "created"

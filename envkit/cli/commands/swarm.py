"""``plan``, ``up`` and ``down`` for an environment whose engine is a Swarm cluster
(``environments.E.engine: {swarm: MANAGER-ENDPOINT}``), and ``envkit rollback``."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from envkit.cli.commands.common import read_stack, resolve_env
from envkit.errors import UsageError

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.swarm import SwarmEngine
    from envkit.stackfile.document import Document
    from envkit.swarm_model import SwarmStack

__all__ = ["swarm_down", "swarm_endpoint", "swarm_plan", "swarm_up"]


def _stack(args: argparse.Namespace) -> Document:
    """The stack document, read once per command (``swarm_endpoint`` then ``_load``)."""
    doc: Document | None = getattr(args, "_swarm_stack_doc", None)
    if doc is None:
        doc = read_stack(args)
        args._swarm_stack_doc = doc
    return doc


def swarm_endpoint(args: argparse.Namespace) -> str | None:
    """The Swarm manager the environment names, or None for a container engine. Without
    ENV (or with a service named where ENV goes), a stack's only environment."""
    from envkit.stackfile.enginesetting import swarm_manager
    from envkit.stackfile.pipeline import environments

    doc = _stack(args)
    env, names = args.env, environments(doc)
    if (env is None or env not in names) and len(names) == 1:
        env = names[0]
    return swarm_manager(doc, env) if env is not None else None


def _load(args: argparse.Namespace, console: Console) -> tuple[SwarmStack, str | None]:
    from envkit.stackfile.dialect import environment_def
    from envkit.stackfile.swarmkeys import to_swarm

    doc = _stack(args)
    resolved = resolve_env(args, console, doc)
    registry = environment_def(doc.data, args.env).get("registry")
    stack = to_swarm(resolved.rendered, resolved.desired)
    return stack, registry if isinstance(registry, str) else None


def _engine(endpoint: str) -> SwarmEngine:
    from envkit.engine.swarm import SwarmEngine

    return SwarmEngine(endpoint)


def swarm_plan(args: argparse.Namespace, console: Console, endpoint: str) -> int:
    from envkit.reconcile import swarm_verbs
    from envkit.reconcile.swarm_warnings import swarm_warnings

    stack, registry = _load(args, console)
    _refuse(args, "plan")
    eng = _engine(endpoint)
    try:
        p = swarm_verbs.plan(eng, stack, report=console.err)
    finally:
        eng.close()
    warnings = swarm_warnings(stack, registry=registry)
    if args.json:
        console.out(json.dumps({
            "project": p.project, "engine": "swarm",
            "changes": [{"service": c.service, "action": c.action.name.lower(),
                         "reasons": list(c.reasons)} for c in p.changes],
            "objects": [{"kind": o.kind, "name": o.name, "action": "create" if o.create
                         else "remove"} for o in p.objects],
            "warnings": [{"service": w.service, "code": w.code, "message": w.message,
                          "hint": w.hint} for w in warnings],
        }, indent=2))  # fmt: skip
    else:
        console.out(p.render())
        for w in warnings:
            console.err(w.render())
    return 2 if (args.detailed_exitcode and not p.empty) else 0


def swarm_up(args: argparse.Namespace, console: Console, endpoint: str) -> int:
    from envkit.cli.arguments import expiry_and_instance
    from envkit.reconcile import swarm_verbs
    from envkit.reconcile.swarm_warnings import swarm_warnings

    expires = expiry_and_instance(args)
    stack, registry = _load(args, console)
    _refuse(args, "up")
    if args.ephemeral:
        console.err(f"instance {stack.desired.instance} (project {stack.project})")
        if not args.json:
            console.out(str(stack.desired.instance))
    for w in swarm_warnings(stack, registry=registry):
        console.err(w.render())
    eng = _engine(endpoint)
    try:
        p = swarm_verbs.up(
            eng,
            stack,
            engine_id=eng.identity,
            timeout_s=args.timeout,
            lock_timeout_s=args.lock_timeout,
            report=console.err,
            object_ids=eng.object_ids,
            expires=expires,
        )
    finally:
        eng.close()
    console.err(p.render())
    if args.json:
        from envkit.cli.commands.swarm_read import status_document

        eng = _engine(endpoint)
        try:
            console.out_json(status_document(eng, stack.project, stack.desired.instance))
        finally:
            eng.close()
    return 0


def _refuse(args: argparse.Namespace, verb: str) -> None:
    """What ``up``/``down`` take on one engine and has no meaning on a Swarm: refused, never
    ignored (``down dev web`` must not take the whole stack down)."""
    env = args.env
    refused = [
        (getattr(args, "plan", None) is not None, "--plan",
         "a saved plan is of containers on one engine",
         f"run 'envkit plan {env}' and then 'envkit up {env}'"),
        (bool(getattr(args, "services", None)), "SERVICE...",
         f"a Swarm {verb} takes the whole stack",
         f"'envkit {verb} {env}' without services"
         + ("; to remove one service, delete it from the stack file and run 'envkit up "
            f"{env}'" if verb == "down" else "")),
        (getattr(args, "out", None) is not None, "-o/--out",
         "a saved plan is of containers on one engine", f"run 'envkit plan {env}' without it"),
    ]  # fmt: skip
    for bad, what, why, hint in refused:
        if bad:
            raise UsageError(
                f"{what} does not apply to environment {env}, which is on a Swarm: {why}",
                hint=hint,
            )


def swarm_down(args: argparse.Namespace, console: Console, endpoint: str) -> int:
    from envkit.reconcile import swarm_verbs

    desired = resolve_env(args, console).desired
    _refuse(args, "down")
    eng = _engine(endpoint)
    try:
        n = swarm_verbs.down(
            eng, desired.project, engine_id=eng.identity, lock_timeout_s=args.lock_timeout
        )
    finally:
        eng.close()
    console.err(f"{desired.project}: removed {n} object{'s' if n != 1 else ''}")
    return 0


def cmd_rollback(args: argparse.Namespace, console: Console) -> int:
    from envkit.reconcile.lock import instance_lock
    from envkit.reconcile.swarm_rollback import swarm_rollback

    endpoint = swarm_endpoint(args)
    if endpoint is None:
        raise UsageError(
            f"environment {args.env} is not on a Swarm: rollback works on Swarm environments",
            hint="on one engine, check out the previous stack file and run `envkit up`",
        )
    desired = resolve_env(args, console).desired
    eng = _engine(endpoint)
    try:
        with instance_lock(
            desired.project, engine_id=eng.identity, timeout_s=args.lock_timeout,
            on_wait=console.err,
        ):  # fmt: skip
            swarm_rollback(eng, desired.project, timeout=args.timeout, report=console.err)
    finally:
        eng.close()
    return 0

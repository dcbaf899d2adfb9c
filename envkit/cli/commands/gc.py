"""``envkit gc``: remove expired instances, across every stack on the engine.

The work is :func:`envkit.reconcile.gc.collect_garbage` (what is expired, the lock, reading
again, removing); this module only words its outcomes.

Output: one line per removed object on stdout, ``KIND NAME`` (``container web-ci-1a2b-api-1``),
or with ``--json``::

    {"format_version": 1, "dry_run": false, "now": "2024-05-01T12:00:00Z",
     "removed": [{"project", "stack", "env", "instance", "reason": "expired"|"older-than",
                  "expires", "created", "containers": [...], "networks": [...],
                  "volumes": [...]}],
     "skipped": [{"project", "reason": "renewed"|"locked"|"swarm"}],
     "failed": [{"project", "error", "containers": [...], "networks": [...],
                 "volumes": [...]}]}

A failed instance lists what was removed before it failed, on stdout too.

``--swarm MANAGER`` collects the Swarm stacks whose lease (``up --ttl``) expired instead
(``envkit.reconcile.swarm_gc``); their entries also list ``services``, ``secrets`` and
``configs`` (``containers`` and ``volumes`` stay empty: Swarm removes the tasks' containers,
and named volumes stay on the nodes). A Swarm stack seen on one engine (``--engine NODE``) is
never reaped there: it is ``skipped``, reason ``swarm``.

Why each instance goes, and a summary, are on stderr. Exit 1 when an instance could not be
removed, else 0 (nothing to do is not an error).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from envkit.cli.commands.common import engine
from envkit.errors import UsageError
from envkit.model import LABEL
from envkit.reconcile.expiry import Candidate, Reason, format_time, parse_ttl

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.reconcile.gc import GcResult, Outcome
    from envkit.reconcile.teardown import DownResult

GC_FORMAT_VERSION = 1


def _why(c: Candidate, now: datetime) -> str:
    if c.reason is Reason.EXPIRED and c.expires is not None:
        return f"expired at {format_time(c.expires)} ({_ago(now, c.expires)} ago)"
    created = f"created {_ago(now, c.created)} ago" if c.created else "creation time unknown"
    expiry = f"expires {format_time(c.expires)}" if c.expires else "no expiry"
    return f"older than --older-than ({created}, {expiry})"


def _ago(now: datetime, then: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _objects(removed: DownResult) -> dict[str, list[str]]:
    from envkit.reconcile.swarm_gc import SwarmDownResult

    out = {
        "containers": list(removed.containers),
        "networks": list(removed.networks),
        "volumes": list(removed.volumes),
    }
    if isinstance(removed, SwarmDownResult):  # gc --swarm: a stack's services and objects
        out |= {
            "services": list(removed.services),
            "secrets": list(removed.secrets),
            "configs": list(removed.configs),
        }
    return out


def _entry(c: Candidate, removed: DownResult) -> dict[str, Any]:
    labels = c.labels
    return {
        "project": c.project,
        "stack": labels.get(LABEL.STACK),
        "env": labels.get(LABEL.ENV),
        "instance": labels.get(LABEL.INSTANCE),
        "reason": c.reason.value,
        "expires": format_time(c.expires) if c.expires else None,
        "created": format_time(c.created) if c.created else None,
        **_objects(removed),
    }


def cmd_gc(args: argparse.Namespace, console: Console) -> int:
    from envkit.reconcile.gc import Failed, Reaped, SkipReason, collect_garbage

    older_than = parse_ttl(args.older_than, what="--older-than") if args.older_than else None
    if args.include_unexpiring and older_than is None:
        raise UsageError(
            "--include-unexpiring needs --older-than",
            hint="instances without an expiry are only reaped by age: e.g. "
            "'envkit gc --older-than 1d --include-unexpiring'",
        )

    def say(outcome: Outcome) -> None:
        project = outcome.project
        if isinstance(outcome, Reaped):
            verb = "would remove" if args.dry_run else "removed"
            console.err(f"{project}: {_why(outcome.candidate, now)}: {verb}")
            _print_objects(console, args, outcome.removed)
        elif isinstance(outcome, Failed):
            console.err(f"{project}: could not be removed: {outcome.error.message}")
            _print_objects(console, args, outcome.removed)
        elif outcome.reason is SkipReason.RENEWED:
            console.err(f"{project}: renewed meanwhile; kept")
        elif outcome.reason is SkipReason.SWARM:
            console.err(
                f"{project}: a Swarm stack (its tasks' containers are Swarm's); kept: "
                "remove it with `envkit down ENV` on its Swarm environment"
            )
        else:
            console.err(f"{project}: another envkit is working on it; skipped")

    now = datetime.now(UTC)
    if args.swarm is not None:
        result = _swarm_gc(args, say)
        if args.json:
            console.out_json(gc_json(result))
        console.err(_summary(result))
        return 1 if result.failed else 0
    result = collect_garbage(
        engine(address=args.engine),
        older_than_s=older_than,
        include_unexpiring=bool(args.include_unexpiring),
        dry_run=bool(args.dry_run),
        lock_timeout_s=args.lock_timeout,
        on_outcome=say,
    )
    if args.json:
        console.out_json(gc_json(result))
    console.err(_summary(result))
    return 1 if result.failed else 0


def _swarm_gc(args: argparse.Namespace, say: Callable[[Outcome], None]) -> GcResult:
    """``gc --swarm MANAGER``: the stacks whose lease expired (``envkit.reconcile.swarm_gc``)."""
    from envkit.reconcile.swarm_gc import collect_on_manager

    given = [o for o, v in (("--engine", args.engine), ("--older-than", args.older_than),
                            ("--include-unexpiring", args.include_unexpiring)) if v]  # fmt: skip
    if given:
        raise UsageError(
            f"{', '.join(given)} does not go with --swarm",
            hint="a Swarm stack goes when its lease (up --ttl) expires; collect one engine's "
            "instances with a separate 'envkit gc --engine E'",
        )
    return collect_on_manager(
        args.swarm, dry_run=bool(args.dry_run), lock_timeout_s=args.lock_timeout, on_outcome=say
    )


def gc_json(result: GcResult) -> dict[str, Any]:
    """The document of ``envkit gc --json`` (see the module docstring)."""
    return {
        "format_version": GC_FORMAT_VERSION,
        "dry_run": result.dry_run,
        "now": format_time(result.now),
        "removed": [_entry(r.candidate, r.removed) for r in result.reaped],
        "skipped": [{"project": s.project, "reason": s.reason.value} for s in result.skipped],
        "failed": [
            {"project": f.project, "error": f.error.message, **_objects(f.removed)}
            for f in result.failed
        ],
    }


def _print_objects(console: Console, args: argparse.Namespace, removed: DownResult) -> None:
    if args.json:
        return
    for kind, names in _objects(removed).items():
        for name in names:
            console.out(f"{kind[:-1]} {name}")


def _summary(result: GcResult) -> str:
    if not result.outcomes:
        return "gc: nothing to do (no expired envkit instance on the engine)"
    reaped = [r.removed for r in result.reaped]
    counts = {
        "containers": sum(len(r.containers) for r in reaped),
        "networks": sum(len(r.networks) for r in reaped),
        "volumes": sum(len(r.volumes) for r in reaped),
    }
    verb = "would remove" if result.dry_run else "removed"
    out = (
        f"gc: {verb} {len(reaped)} instance(s): {counts['containers']} container(s), "
        f"{counts['networks']} network(s), {counts['volumes']} volume(s)"
    )
    if result.skipped:
        out += f"; skipped {len(result.skipped)}"
    if result.failed:
        out += f"; {len(result.failed)} failed"
    if result.dry_run:
        out += " (dry run: nothing was removed)"
    return out

"""``envkit gc``: remove expired instances, across every stack on the engine.

What is expired is decided by :func:`envkit.reconcile.expiry.reapable` (pure) from every object that
carries ``io.envkit.project``; nothing else on the engine is ever looked at. Each instance
is then removed completely (containers, network, volumes and lease, like
``down --volumes``) under its instance lock, after reading it again: an ``up --ttl`` that
extended it meanwhile wins, and an instance some envkit is working on right now is skipped
(``--lock-timeout``) and left for the next gc.

Output: one line per removed object on stdout, ``KIND NAME`` (``container web-ci-1a2b-api-1``),
or with ``--json``::

    {"format_version": 1, "dry_run": false, "now": "2024-05-01T12:00:00Z",
     "removed": [{"project", "stack", "env", "instance", "reason": "expired"|"older-than",
                  "expires", "created", "containers": [...], "networks": [...],
                  "volumes": [...]}],
     "skipped": [{"project", "reason"}], "failed": [{"project", "error"}]}

Why each instance goes, and a summary, are on stderr. Exit 1 when an instance could not be
removed, else 0 (nothing to do is not an error).
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from envkit.cli.commands.common import engine
from envkit.errors import EnvkitError, LockTimeout, UsageError
from envkit.model import LABEL, ResourceKind
from envkit.reconcile.expiry import (
    Candidate,
    EnvkitObject,
    Reason,
    format_time,
    parse_time,
    parse_ttl,
    reapable,
)

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import Inventory

GC_FORMAT_VERSION = 1


def observe_all(eng: Inventory, project: str | None = None) -> list[EnvkitObject]:
    """Every container, network and volume carrying ``io.envkit.project`` (= ``project``)."""
    selector: dict[str, str | None] = {LABEL.PROJECT: project}
    objects = [
        EnvkitObject(ResourceKind.CONTAINER, c.name, c.labels, parse_time(c.created))
        for c in eng.list_containers(selector)
    ]
    objects += [
        EnvkitObject(ResourceKind.NETWORK, n.name, n.labels, parse_time(n.created))
        for n in eng.list_networks(selector)
    ]
    objects += [
        EnvkitObject(ResourceKind.VOLUME, v.name, v.labels, parse_time(v.created))
        for v in eng.list_volumes(selector)
    ]
    return objects


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


def _entry(c: Candidate, containers: list[str], networks: list[str], volumes: list[str]) -> Any:
    labels = c.labels
    return {
        "project": c.project,
        "stack": labels.get(LABEL.STACK),
        "env": labels.get(LABEL.ENV),
        "instance": labels.get(LABEL.INSTANCE),
        "reason": c.reason.value,
        "expires": format_time(c.expires) if c.expires else None,
        "created": format_time(c.created) if c.created else None,
        "containers": containers,
        "networks": networks,
        "volumes": volumes,
    }


def _names(c: Candidate, kind: ResourceKind) -> list[str]:
    return sorted(o.name for o in c.objects if o.kind is kind)


def cmd_gc(args: argparse.Namespace, console: Console) -> int:
    from envkit.progress import NullReporter
    from envkit.reconcile.lock import instance_lock
    from envkit.reconcile.teardown import down

    older_than = parse_ttl(args.older_than, what="--older-than") if args.older_than else None
    if args.include_unexpiring and older_than is None:
        raise UsageError(
            "--include-unexpiring needs --older-than",
            hint="instances without an expiry are only reaped by age: e.g. "
            "'envkit gc --older-than 1d --include-unexpiring'",
        )
    eng = engine()
    now = datetime.now(UTC)
    include = bool(args.include_unexpiring)
    candidates = reapable(
        observe_all(eng), now, older_than_s=older_than, include_unexpiring=include
    )
    removed: list[Any] = []
    skipped: list[Any] = []
    failed: list[Any] = []
    for cand in candidates:
        if args.dry_run:
            console.err(f"{cand.project}: {_why(cand, now)}: would remove")
            entry = _entry(
                cand,
                _names(cand, ResourceKind.CONTAINER),
                _names(cand, ResourceKind.NETWORK),
                _names(cand, ResourceKind.VOLUME),
            )
            removed.append(entry)
            _print_objects(console, args, entry)
            continue
        try:
            with instance_lock(cand.project, engine_id=eng.identity, timeout_s=args.lock_timeout):
                # Read it again under the lock: an `up --ttl` may have extended it.
                again = reapable(
                    observe_all(eng, cand.project),
                    datetime.now(UTC),
                    older_than_s=older_than,
                    include_unexpiring=include,
                )
                if not again:
                    console.err(f"{cand.project}: renewed meanwhile; kept")
                    skipped.append({"project": cand.project, "reason": "renewed"})
                    continue
                console.err(f"{cand.project}: {_why(again[0], now)}: removing")
                result = down(eng, cand.project, volumes=True, reporter=NullReporter())
        except LockTimeout:
            console.err(f"{cand.project}: another envkit is working on it; skipped")
            skipped.append({"project": cand.project, "reason": "locked"})
            continue
        except (EnvkitError, ValueError) as exc:
            message = exc.message if isinstance(exc, EnvkitError) else str(exc)
            console.err(f"{cand.project}: could not be removed: {message}")
            failed.append({"project": cand.project, "error": message})
            continue
        entry = _entry(
            again[0], list(result.containers), list(result.networks), list(result.volumes)
        )
        removed.append(entry)
        _print_objects(console, args, entry)
    if args.json:
        console.out(
            json.dumps(
                {
                    "format_version": GC_FORMAT_VERSION,
                    "dry_run": bool(args.dry_run),
                    "now": format_time(now),
                    "removed": removed,
                    "skipped": skipped,
                    "failed": failed,
                },
                indent=2,
            )
        )
    console.err(_summary(removed, skipped, failed, dry_run=args.dry_run))
    return 1 if failed else 0


def _print_objects(console: Console, args: argparse.Namespace, entry: Any) -> None:
    if args.json:
        return
    for kind in ("containers", "networks", "volumes"):
        for name in entry[kind]:
            console.out(f"{kind[:-1]} {name}")


def _summary(removed: list[Any], skipped: list[Any], failed: list[Any], *, dry_run: bool) -> str:
    if not (removed or skipped or failed):
        return "gc: nothing to do (no expired envkit instance on the engine)"
    counts = {k: sum(len(e[k]) for e in removed) for k in ("containers", "networks", "volumes")}
    verb = "would remove" if dry_run else "removed"
    out = (
        f"gc: {verb} {len(removed)} instance(s): {counts['containers']} container(s), "
        f"{counts['networks']} network(s), {counts['volumes']} volume(s)"
    )
    if skipped:
        out += f"; skipped {len(skipped)}"
    if failed:
        out += f"; {len(failed)} failed"
    if dry_run:
        out += " (dry run: nothing was removed)"
    return out

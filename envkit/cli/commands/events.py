"""``envkit events ENV [SERVICE...]``: the engine's events about the instance's objects,
selected by the instance's label (so containers; network and volume events too where the
engine puts labels on them, which Docker 20.10 does not), as they happen (or
those between ``--since`` and ``--until``). One line per event, or one JSON object per
line with ``--json``. Ctrl-C ends it (exit 130)."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from envkit.cli.commands.common import engine, resolve_env
from envkit.cli.commands.containers import check_services
from envkit.model import LABEL

if TYPE_CHECKING:
    from envkit.cli.console import Console

__all__ = ["cmd_events"]


def cmd_events(args: argparse.Namespace, console: Console) -> int:
    import json

    desired = resolve_env(args, console).desired
    check_services(desired, args.services)
    eng = engine(desired)
    try:
        for event in eng.events({LABEL.PROJECT: desired.project}, args.since, args.until):
            service = event.labels.get(LABEL.SERVICE, "")
            if args.services and service not in args.services:
                continue
            moment = datetime.fromtimestamp(event.time, UTC).isoformat(timespec="milliseconds")
            if args.json:
                document = {
                    "time": moment.replace("+00:00", "Z"),
                    "type": event.type,
                    "action": event.action,
                    "name": event.name,
                    "service": service or None,
                }
                console.out(json.dumps(document, sort_keys=True))
            else:
                who = f" ({service})" if service else ""
                console.out(f"{moment} {event.type} {event.action} {event.name}{who}")
    except KeyboardInterrupt:
        return 130
    return 0

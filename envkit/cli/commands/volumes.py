"""``envkit volumes ENV [--instance ID] [--rm [--yes]]``: an instance's volumes — the
named ones envkit made (labelled) and the anonymous ones its containers mount — and
removing the named ones.

Removal refuses while any container (the instance's or anyone's) mounts one: ``down``
(or ``stop`` + ``rm``) first. On a terminal it lists what it will delete and asks; ``--yes``
skips the question; without a terminal it never asks. Sizes are not shown: the engine
computes them only by walking every volume (``docker system df -v``), which is not cheap.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

from envkit.cli.commands.common import engine, resolve_env
from envkit.cli.commands.stackfile import table
from envkit.errors import EnvkitError
from envkit.model import LABEL
from envkit.reconcile.expiry import is_lease

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import Inventory

__all__ = ["VolumeRow", "cmd_volumes", "instance_volumes"]


@dataclass(frozen=True, slots=True)
class VolumeRow:
    name: str
    kind: str  # "named" | "anonymous"
    volume: str  # the stack's name for it ("" for anonymous)
    used_by: tuple[str, ...]  # containers mounting it


def instance_volumes(eng: Inventory, project: str) -> list[VolumeRow]:
    """The instance's named volumes (its labelled ones, leases left out) and the anonymous
    volumes its containers mount, with every container that uses each."""
    everyone = eng.list_containers({})
    users: dict[str, list[str]] = {}
    for c in everyone:
        for v in c.volumes:
            users.setdefault(v, []).append(c.name)
    rows = [
        VolumeRow(
            v.name,
            "anonymous" if LABEL.ANONYMOUS in v.labels else "named",
            v.labels.get(LABEL.VOLUME, ""),
            tuple(sorted(users.get(v.name, []))),
        )  # envkit makes and labels a service's anonymous volumes (reconcile/anonymous.py)
        for v in eng.list_volumes({LABEL.PROJECT: project})
        if not is_lease(v.labels)
    ]
    named = {r.name for r in rows}
    for c in everyone:
        if c.project != project:
            continue
        for v in c.volumes:
            if v not in named and len(v) == 64 and all(ch in "0123456789abcdef" for ch in v):
                named.add(v)
                rows.append(VolumeRow(v, "anonymous", "", tuple(sorted(users.get(v, [])))))
    return sorted(rows, key=lambda r: (r.kind != "named", r.name))


def cmd_volumes(args: argparse.Namespace, console: Console) -> int:
    desired = resolve_env(args, console).desired
    eng = engine(desired)
    rows = instance_volumes(eng, desired.project)
    if not args.rm:
        if not rows:
            console.err(f"{desired.project} has no volumes")
            return 0
        lines: list[tuple[str, ...]] = [("VOLUME", "KIND", "STACK NAME", "USED BY")]
        lines += [(r.name, r.kind, r.volume or "-", ", ".join(r.used_by) or "-") for r in rows]
        console.out(table(lines))
        return 0
    doomed = rows  # named and anonymous alike: the instance's data
    if not doomed:
        console.err(f"{desired.project} has no volumes to remove")
        return 0
    busy = [r for r in doomed if r.used_by]
    if busy:
        raise EnvkitError(
            f"{len(busy)} volume{'s' if len(busy) != 1 else ''} of {desired.project} "
            "in use: " + "; ".join(f"{r.name} by {', '.join(r.used_by)}" for r in busy),
            code="volume-in-use",
            hint=f"remove the containers first ('envkit down {args.env}'), then run this again",
        )
    if not args.yes and sys.stdin.isatty() and console.err_is_tty:
        console.err("This deletes the data in:")
        for r in doomed:
            console.err(f"  - {r.name}")
        console.err_stream.write("Delete them? [y/N] ")
        console.err_stream.flush()
        if input().strip().lower() not in ("y", "yes"):
            console.err("nothing removed")
            return 1
    for r in doomed:
        eng.remove_volume(r.name)
        console.err(f"{r.name}: removed")
    return 0

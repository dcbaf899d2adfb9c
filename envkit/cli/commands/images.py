"""``envkit images|pull|build ENV [SERVICE...]``: the images an environment uses, and
getting them now rather than at ``up``.

``pull`` pulls every named service's image now (whatever its pull_policy: asking is the
point), leaving out services that are built; ``build`` builds the services with
``build:`` now (as pull_policy ``build`` would), leaving out the others. Both go through
the engine's ImageStore (``envkit.engine.docker_images``), so they behave exactly as
``up`` does when it pulls or builds.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING

from envkit.cli.commands.common import engine, resolve_env
from envkit.cli.commands.containers import check_services
from envkit.cli.commands.stackfile import table
from envkit.model import PullPolicy

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import Engine
    from envkit.model import ServiceSpec

__all__ = ["cmd_build", "cmd_images", "cmd_pull", "human_size"]


def human_size(size: int) -> str:
    """``docker images``' units: 1000-based, three significant digits."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000:
            return f"{value:.3g}{unit}"
        value /= 1000
    return f"{value:.3g}TB"


def _services(args: argparse.Namespace, console: Console) -> tuple[Engine, list[ServiceSpec]]:
    """The environment's engine, and the named services (all when none is named)."""
    desired = resolve_env(args, console).desired
    check_services(desired, args.services)
    chosen = [s for s in desired.services if not args.services or s.name in args.services]
    return engine(desired), chosen


def cmd_images(args: argparse.Namespace, console: Console) -> int:
    eng, services = _services(args, console)
    rows: list[tuple[str, ...]] = [("SERVICE", "IMAGE", "ID", "SIZE", "PRESENT")]
    for spec in services:
        info = eng.image_info(spec.image)
        if info is None:
            rows.append((spec.name, spec.image, "-", "-", "no"))
        else:
            short = info.id.removeprefix("sha256:")[:12]
            rows.append((spec.name, spec.image, short, human_size(info.size), "yes"))
    console.out(table(rows))
    return 0


def _line(console: Console, name: str, text: str) -> None:
    console.err(f"{name}: {text}")


def cmd_pull(args: argparse.Namespace, console: Console) -> int:
    eng, services = _services(args, console)
    done: set[str] = set()
    for spec in services:
        if spec.build is not None:
            console.err(f"{spec.name}: built from {spec.build.context}, not pulled")
            continue
        if spec.image in done:
            continue
        console.err(f"{spec.name}: pulling {spec.image}")
        eng.refresh_image(spec, on_output=partial(_line, console, spec.name))
        done.add(spec.image)
        console.err(f"{spec.name}: pulled {spec.image}")
    return 0


def cmd_build(args: argparse.Namespace, console: Console) -> int:
    eng, services = _services(args, console)
    for spec in services:
        if spec.build is None:
            console.err(f"{spec.name}: uses the image {spec.image}, nothing to build")
            continue
        console.err(f"{spec.name}: building {spec.image}")
        image_id = eng.ensure_image(
            replace(spec, pull_policy=PullPolicy.BUILD),
            on_output=partial(_line, console, spec.name),
        )
        console.err(f"{spec.name}: built {spec.image} ({image_id.removeprefix('sha256:')[:12]})")
    return 0

"""``envkit ps`` and ``envkit port``: reading what runs."""

from __future__ import annotations

import argparse
import os
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from envkit.cli.commands.common import engine, instance_id, read_stack, resolve_env, stack_files
from envkit.cli.commands.containers import select
from envkit.cli.commands.stackfile import table
from envkit.errors import EngineUnavailable, EnvkitError, UsageError
from envkit.model import LABEL, ResourceKind
from envkit.reconcile.expiry import EnvkitObject, effective_expiry, format_time, parse_time
from envkit.reconcile.gc import observe_volumes
from envkit.reconcile.status import STATUS_FORMAT_VERSION as STATUS_FORMAT_VERSION
from envkit.reconcile.status import address, find_binding, parse_port
from envkit.reconcile.status import status_json as status_json

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import Engine, Inventory, ObservedContainer
    from envkit.stackfile.document import Document


def _listing(
    args: argparse.Namespace, console: Console
) -> list[tuple[Engine, dict[str, str | None]]]:
    """The engines to list and the label filter for each: ``ps ENV`` lists ENV's instances
    on ENV's engine; ``ps`` in a stack's folder lists the stack on every engine its
    environments name; ``ps --all`` (or outside a stack's folder) every envkit project on
    ``--engine`` (default DOCKER_HOST / the local socket)."""
    address = getattr(args, "engine", None)
    if args.env is None:
        # `envkit ps` outside a stack's folder (no -f, no ./envkit.yaml) lists every envkit
        # project on the engine, like --all; with a stack file, that stack's instances.
        implicit = args.file is None and not os.path.exists(stack_files(args)[0])
        if getattr(args, "all", False) or implicit:
            return [(engine(address=address), {LABEL.PROJECT: None})]
        doc = read_stack(args)
        _note_swarm_environments(doc, console)
        labels: dict[str, str | None] = {LABEL.STACK: doc.stack_name}
        if address:
            return [(engine(address=address), labels)]
        return [(eng, labels) for eng in _stack_engines(doc)]
    if address:
        raise UsageError(
            "--engine goes with `ps` without ENV",
            hint=f"`ps {args.env}` lists it on the engine its engine: setting names",
        )
    desired = resolve_env(args, console).desired
    return [(engine(desired), {LABEL.PROJECT: desired.project})]


def _note_swarm_environments(doc: Document, console: Console) -> None:
    """``ps`` without ENV lists container engines; a Swarm environment is listed by name."""
    from envkit.stackfile.enginesetting import swarm_manager
    from envkit.stackfile.pipeline import environments

    for name in environments(doc):
        if swarm_manager(doc, name) is not None:
            console.err(f"note: environment {name} is on a Swarm: list it with 'envkit ps {name}'")


def _stack_engines(doc: Document) -> list[Engine]:
    """One engine per distinct engine the stack's environments live on (by identity)."""
    from envkit.engine.factory import engine_from_env
    from envkit.stackfile.enginesetting import engine_setting
    from envkit.stackfile.pipeline import environments

    names = environments(doc)
    settings = list(dict.fromkeys(engine_setting(doc, name) for name in names)) or [None]
    found: dict[str, Engine] = {}
    for setting in settings:
        eng = engine_from_env(endpoint=setting)
        found.setdefault(eng.identity, eng)
    return list(found.values())


def _natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key that puts ``svc2`` before ``svc10``."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", text) if part
    )


def _ago(created: str, now: datetime) -> str:
    moment = parse_time(created)
    if moment is None:
        return "-"
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _expires(objects: list[EnvkitObject]) -> str | None:
    moment = effective_expiry(objects)
    return format_time(moment) if moment is not None else None


def instance_document(
    eng: Inventory, project: str, instance: str | None, containers: list[ObservedContainer]
) -> dict[str, Any]:
    """The status document of one instance with its ``expires`` (the lease's, else the
    latest stamp): what ``up --json`` and ``ps ENV --json`` print."""
    objects = observe_volumes(eng, {LABEL.PROJECT: project})
    objects += [EnvkitObject(ResourceKind.CONTAINER, c.name, c.labels) for c in containers]
    doc = status_json(project, instance, containers)
    doc["expires"] = _expires(objects)
    return doc


def cmd_ps(args: argparse.Namespace, console: Console) -> int:
    """``ps ENV --json`` prints exactly the document ``up --json`` prints for that instance
    (status plus ``expires``); ``ps --json`` without ENV lists every project as
    ``{format_version, projects: [document without format_version, ...]}``, sorted by name.

    Exit codes follow one rule for every read command (ps, logs, port, exec): naming
    something that does not run is an error (``ps ENV``: exit 1, ``not-running``); a listing
    that finds nothing is not (``ps`` without ENV: exit 0)."""
    instance_id(args)
    if args.env is not None and not getattr(args, "engine", None):
        from envkit.cli.commands.swarm import swarm_endpoint

        if (swarm := swarm_endpoint(args)) is not None:
            from envkit.cli.commands.swarm_read import swarm_ps

            return swarm_ps(args, console, swarm)
    listing = _listing(args, console)
    eng, selector = listing[0]
    by_project: dict[str, list[ObservedContainer]] = {}
    objects: dict[str, list[EnvkitObject]] = {}
    unreachable = 0
    for on, labels in listing:  # one engine, or each engine the stack's environments name
        try:
            for c in on.list_containers(labels):
                by_project.setdefault(c.project, []).append(c)
            for obj in observe_volumes(on, labels):
                objects.setdefault(obj.project, []).append(obj)
        except EngineUnavailable as exc:
            if len(listing) == 1:
                raise
            # one of the stack's engines is down: list the others, say so, exit 1
            unreachable += 1
            console.err(f"warning: {exc.message}")
    for project, cs in by_project.items():
        objects.setdefault(project, []).extend(
            EnvkitObject(ResourceKind.CONTAINER, c.name, c.labels) for c in cs
        )
    if args.env is not None and not by_project:
        wanted = str(selector[LABEL.PROJECT])
        raise EnvkitError(
            f"nothing of {wanted} runs",
            code="not-running",
            hint=_instances_hint(eng, args),
        )
    documents = []
    for project, cs in sorted(by_project.items(), key=lambda kv: _natural(kv[0])):
        doc = status_json(project, cs[0].labels.get(LABEL.INSTANCE), cs)
        doc["expires"] = _expires(objects.get(project, []))
        documents.append(doc)
    if args.json:
        if args.env is not None:
            console.out_json(documents[0])
        else:
            for doc in documents:
                del doc["format_version"]
            console.out_json({"format_version": STATUS_FORMAT_VERSION, "projects": documents})
        return 1 if unreachable else 0
    if not documents:
        console.err("no envkit containers found")
        return 1 if unreachable else 0
    now = datetime.now(UTC)
    rows: list[tuple[str, ...]] = [
        (
            "PROJECT",
            "SERVICE",
            "CONTAINER",
            "IMAGE",
            "STATE",
            "HEALTH",
            "CREATED",
            "EXPIRES",
            "PORTS",
        )
    ]
    for project, cs in sorted(by_project.items(), key=lambda kv: _natural(kv[0])):
        expires = _expires(objects.get(project, [])) or "-"
        for c in sorted(cs, key=lambda c: (_natural(c.service), c.replica)):
            ports = ", ".join(
                f"{address(b.host_ip, b.host_port)}->{b.target}/{b.protocol}" for b in c.ports
            )
            image = str(c.spec.get("image") or c.image_id[:19])
            rows.append(
                (
                    project,
                    c.service,
                    c.name,
                    image,
                    c.state,
                    c.health or "-",
                    _ago(c.created, now),
                    expires,
                    ports or "-",
                )
            )
    console.out(table(rows))
    return 1 if unreachable else 0


def _instances_hint(eng: Inventory, args: argparse.Namespace) -> str:
    """``ps ENV`` found nothing: point at its instances when only those run."""
    if args.instance is None:
        doc = read_stack(args)
        running = sorted(
            {
                c.labels.get(LABEL.INSTANCE, "")
                for c in eng.list_containers(
                    {LABEL.STACK: str(doc.data.get("stack")), LABEL.ENV: args.env}
                )
            }
            - {""},
            key=_natural,
        )
        if running:
            shown = ", ".join(running[:5]) + (", ..." if len(running) > 5 else "")
            return (
                f"{len(running)} instance{'s' if len(running) != 1 else ''} of {args.env} "
                f"run{'s' if len(running) == 1 else ''} ({shown}): add --instance ID, or "
                "run 'envkit ps --all'"
            )
    return f"run 'envkit up {args.env}' first"


def shown_host(eng: Engine, host_ip: str) -> str:
    """The host to print for a published port: as the engine reports it, except a wildcard
    address on a remote engine, which is reached at the engine's host."""
    from envkit.model import is_wildcard

    there = eng.connect_host(host_ip)
    if is_wildcard(host_ip) and there not in ("127.0.0.1", "::1"):
        return there
    return host_ip


def cmd_port(args: argparse.Namespace, console: Console) -> int:
    """The same binding the Python API's ``Environment.port`` picks (IPv4 first)."""
    target, proto = parse_port(args.port)
    chosen = select(args, console, [args.service], index=args.index)
    eng, containers = chosen.engine, chosen.containers
    binding = find_binding(containers[0], target, proto)
    if binding is None:
        raise EnvkitError(
            f"{containers[0].name} does not publish {target}/{proto}",
            code="no-such-port",
            hint="list the published ports with 'envkit ps'",
        )
    console.out(address(shown_host(eng, binding.host_ip), binding.host_port))
    return 0

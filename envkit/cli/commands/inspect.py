"""``envkit ps``, ``envkit logs`` and ``envkit port``: reading what runs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from typing import TYPE_CHECKING

from envkit.cli.commands.common import engine, instance_id, read_stack, resolve_env, stack_path
from envkit.cli.commands.stackfile import table
from envkit.errors import EnvkitError, UsageError
from envkit.model import LABEL
from envkit.reconcile.status import STATUS_FORMAT_VERSION as STATUS_FORMAT_VERSION
from envkit.reconcile.status import address, find_binding, parse_port
from envkit.reconcile.status import status_json as status_json

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import Engine, ObservedContainer
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
        implicit = args.file is None and not os.path.exists(stack_path(args))
        if getattr(args, "all", False) or implicit:
            return [(engine(address=address), {LABEL.PROJECT: None})]
        doc = read_stack(args)
        labels: dict[str, str | None] = {LABEL.STACK: str(doc.data.get("stack"))}
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


def cmd_ps(args: argparse.Namespace, console: Console) -> int:
    """``--json``: always ``{format_version, projects: [status, ...]}`` — one
    :func:`envkit.reconcile.status.status_json` document per project, sorted by name (``ps ENV``
    lists at most one: ``projects[0]`` is the same document ``up --json`` prints), so the
    shape does not depend on how many instances run."""
    instance_id(args)
    containers = [c for eng, labels in _listing(args, console) for c in eng.list_containers(labels)]
    by_project: dict[str, list[ObservedContainer]] = {}
    for c in containers:
        by_project.setdefault(c.project, []).append(c)
    if args.json:
        console.out(
            json.dumps(
                {
                    "format_version": STATUS_FORMAT_VERSION,
                    "projects": [
                        status_json(p, cs[0].labels.get(LABEL.INSTANCE), cs)
                        for p, cs in sorted(by_project.items())
                    ],
                },
                indent=2,
            )
        )
        return 0
    rows: list[tuple[str, ...]] = [("PROJECT", "SERVICE", "CONTAINER", "STATE", "HEALTH", "PORTS")]
    for project, cs in sorted(by_project.items()):
        for c in sorted(cs, key=lambda c: (c.service, c.replica)):
            ports = ", ".join(
                f"{address(b.host_ip, b.host_port)}->{b.target}/{b.protocol}" for b in c.ports
            )
            rows.append((project, c.service, c.name, c.state, c.health or "-", ports or "-"))
    if len(rows) == 1:
        console.err("no envkit containers found")
        return 0
    console.out(table(rows))
    return 0


def _service_containers(
    args: argparse.Namespace, console: Console, service: str | None
) -> tuple[Engine, list[ObservedContainer]]:
    desired = resolve_env(args, console).desired
    if service is not None and service not in {s.name for s in desired.services}:
        names = ", ".join(s.name for s in desired.services)
        raise UsageError(
            f"{desired.project} has no service {service!r}", hint=f"the services are: {names}"
        )
    labels: dict[str, str | None] = {LABEL.PROJECT: desired.project}
    if service is not None:
        labels[LABEL.SERVICE] = service
    eng = engine(desired)
    containers = eng.list_containers(labels)
    if not containers:
        what = f"service {service!r} of " if service else ""
        raise EnvkitError(
            f"no containers for {what}{desired.project}",
            code="not-running",
            hint=f"run 'envkit up {args.env}' first",
        )
    return eng, sorted(containers, key=lambda c: (c.service, c.replica))


def cmd_logs(args: argparse.Namespace, console: Console) -> int:
    eng, containers = _service_containers(args, console, args.service)
    prefix = len(containers) > 1
    if not args.follow:
        for c in containers:
            for line in eng.logs(c.id, tail=args.tail).splitlines():
                console.out(f"{c.name} | {line}" if prefix else line)
        return 0
    lock = threading.Lock()

    def pump(c: ObservedContainer) -> None:
        buf = b""
        for chunk in eng.follow_logs(c.id):
            buf += chunk
            *lines, buf = buf.split(b"\n")
            with lock:
                for raw in lines:
                    line = raw.decode("utf-8", "replace")
                    console.out(f"{c.name} | {line}" if prefix else line)

    threads = [threading.Thread(target=pump, args=(c,), daemon=True) for c in containers]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.5)
    except KeyboardInterrupt:
        # Ctrl-C is how a follow ends: nothing was being changed, so nothing to converge
        # and nothing to say. The pump threads are daemons and die with the process.
        return 130
    sys.stdout.flush()
    return 0


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
    eng, found = _service_containers(args, console, args.service)
    containers = [c for c in found if c.replica == args.index]
    if not containers:
        raise EnvkitError(f"{args.service} has no replica {args.index}", code="not-running")
    binding = find_binding(containers[0], target, proto)
    if binding is None:
        raise EnvkitError(
            f"{containers[0].name} does not publish {target}/{proto}",
            code="no-such-port",
            hint="list the published ports with 'envkit ps'",
        )
    console.out(address(shown_host(eng, binding.host_ip), binding.host_port))
    return 0

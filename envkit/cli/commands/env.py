"""``envkit env ENV [--instance ID] [--format shell|json]``: an instance's addresses as
variables, for scripts: ``eval "$(envkit env ci --instance x)"``.

Variables (service names upper-cased, every other character than A-Z and 0-9 -> ``_``;
a udp or sctp port gets ``_UDP``/``_SCTP`` after the port number)::

    ENVKIT_PROJECT=web-ci-1a2b3c4d   ENVKIT_STACK=web   ENVKIT_ENV=ci   ENVKIT_INSTANCE=1a2b3c4d
    ENVKIT_API_8000=127.0.0.1:49153
    ENVKIT_API_8000_HOST=127.0.0.1
    ENVKIT_API_8000_PORT=49153

One address per published port: the first replica's (the lowest replica number), IPv4
first when the engine published a port on both families. ``shell`` prints
``export NAME=VALUE`` lines, each value quoted with :func:`shlex.quote`; ``json`` prints
one object of the same names and values. Two services whose names give the same variable
(``Web`` and ``web``, ``db-main`` and ``db_main``; Compose allows both) are an error that
names them, never one address silently standing for the other.
"""

from __future__ import annotations

import argparse
import re
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from envkit.model import is_wildcard
from envkit.reconcile.status import address, find_binding

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import ObservedContainer

__all__ = ["cmd_env", "env_name", "instance_variables", "shell_lines"]

ENV_FORMAT_VERSION = 1

PREFIX = "ENVKIT_"


def env_name(*parts: str) -> str:
    """``("db-main", "3306")`` -> ``ENVKIT_DB_MAIN_3306``."""
    return PREFIX + "_".join(re.sub(r"[^A-Z0-9]", "_", p.upper()) for p in parts)


def instance_variables(
    project: str,
    stack: str,
    environment: str,
    instance: str | None,
    containers: Sequence[ObservedContainer],
    *,
    remote_host: str = "",
) -> dict[str, str]:
    """The variables of one instance, in a stable order (pure). ``remote_host``: the host
    of a remote engine, which a port published on a wildcard address is reached at."""
    out = {
        env_name("PROJECT"): project,
        env_name("STACK"): stack,
        env_name("ENV"): environment,
        env_name("INSTANCE"): instance or "",
    }
    first: dict[str, ObservedContainer] = {}
    for c in sorted(containers, key=lambda c: (c.service, c.replica)):
        first.setdefault(c.service, c)
    owner: dict[str, str] = {}  # variable -> the service it stands for
    clashes: list[str] = []
    for service, c in first.items():
        keys = sorted({(b.target, b.protocol) for b in c.ports})
        for target, protocol in keys:
            binding = find_binding(c, target, protocol)
            if binding is None:
                continue
            port = str(target) if protocol == "tcp" else f"{target}_{protocol}"
            name = env_name(service, port)
            if owner.setdefault(name, service) != service:
                clashes.append(f"{name}: services {owner[name]!r} and {service!r}")
                continue
            host = binding.host_ip or "0.0.0.0"
            if remote_host and is_wildcard(host):
                host = remote_host
            out[name] = address(host, binding.host_port)
            out[name + "_HOST"] = host
            out[name + "_PORT"] = str(binding.host_port)
    if clashes:
        from envkit.errors import EnvkitError

        raise EnvkitError(
            "two services give the same variable name (names are upper-cased, and every "
            "character other than A-Z and 0-9 becomes _)",
            code="env-name-clash",
            detail="\n".join(f"  {line}" for line in clashes),
            hint="rename one of the services; 'envkit port ENV SERVICE PORT' gives each "
            "address by the service's exact name",
        )
    return out


def shell_lines(variables: dict[str, str]) -> list[str]:
    return [f"export {name}={shlex.quote(value)}" for name, value in variables.items()]


def cmd_env(args: argparse.Namespace, console: Console) -> int:
    from envkit.cli.commands.common import engine, resolve_env
    from envkit.errors import EnvkitError
    from envkit.model import LABEL

    desired = resolve_env(args, console).desired
    eng = engine(desired)
    containers = eng.list_containers({LABEL.PROJECT: desired.project})
    if not containers:
        option = f" --instance {desired.instance}" if desired.instance else ""
        raise EnvkitError(
            f"no containers for {desired.project}",
            code="not-running",
            hint=f"run 'envkit up {desired.environment}{option}' first",
        )
    from envkit.cli.commands.inspect import shown_host

    there = shown_host(eng, "0.0.0.0")
    variables = instance_variables(
        desired.project,
        desired.stack,
        desired.environment,
        desired.instance,
        containers,
        remote_host="" if there == "0.0.0.0" else there,
    )
    if args.format == "json":
        console.out_json({"format_version": ENV_FORMAT_VERSION, "variables": variables})
    else:
        for line in shell_lines(variables):
            console.out(line)
    return 0

"""Finding an environment's containers by service and replica: what every lifecycle
command (exec, stop, start, restart, kill, pause, unpause, top, logs) starts from."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING

from envkit.cli.commands.common import engine, resolve_env
from envkit.errors import EnvkitError, UsageError
from envkit.model import LABEL, is_oneoff

if TYPE_CHECKING:
    from envkit.cli.console import Console
    from envkit.engine.base import Engine, ObservedContainer
    from envkit.model import DesiredState

__all__ = ["Selection", "check_services", "select"]


@dataclass(frozen=True, slots=True)
class Selection:
    """The desired state of ``ENV [--instance ID]``, the engine, and the containers of the
    named services (all replicas, or replica ``--index N``), in dependency order."""

    desired: DesiredState
    engine: Engine
    containers: tuple[ObservedContainer, ...]


def check_services(desired: DesiredState, services: list[str]) -> None:
    """A named service the environment does not have is a usage error naming the ones it
    has."""
    known = [s.name for s in desired.services]
    unknown = [s for s in services if s not in known]
    if unknown:
        raise UsageError(
            f"{desired.project} has no service {', '.join(repr(s) for s in unknown)}",
            hint=f"the services are: {', '.join(known)}",
        )


def select(
    args: argparse.Namespace,
    console: Console,
    services: list[str],
    *,
    index: int | None = None,
) -> Selection:
    """The containers of ``services`` (every service when empty); raises ``not-running``
    when there are none. One-off containers (``envkit run``) are not replicas: left out."""
    from envkit.reconcile.plan import dependency_order

    desired = resolve_env(args, console).desired
    check_services(desired, services)
    eng = engine(desired)
    found = eng.list_containers({LABEL.PROJECT: desired.project})
    order = {s.name: i for i, s in enumerate(dependency_order(desired.services))}
    chosen = [
        c
        for c in found
        if (not services or c.service in services)
        and (index is None or c.replica == index)
        and not is_oneoff(c.labels)
    ]
    if not chosen:
        what = f"service {', '.join(services)} of " if services else ""
        replica = f" with replica {index}" if index is not None else ""
        raise EnvkitError(
            f"no containers for {what}{desired.project}{replica}",
            code="not-running",
            hint=f"run 'envkit up {args.env}' first"
            + (", or list the replicas with 'envkit ps'" if index is not None else ""),
        )
    chosen.sort(key=lambda c: (order.get(c.service, len(order)), c.service, c.replica))
    return Selection(desired, eng, tuple(chosen))


def docker_cli(engine: Engine) -> list[str]:
    """The ``docker`` command line pointed at ``engine``: the environment's own engine
    (``engine:`` in the stack), with its TLS files, rather than whatever DOCKER_HOST says.
    UsageError-free: a non-Docker engine (the fake) gives the bare command."""
    import shutil

    from envkit.errors import EngineError

    docker = shutil.which("docker")
    if docker is None:
        raise EngineError(
            "this needs the docker command-line client, and none is on PATH",
            code="docker-cli-missing",
            hint="install the docker CLI (Debian: apt-get install docker.io)",
        )
    endpoint = getattr(engine, "_endpoint", None)
    url = getattr(endpoint, "url", None)
    if not isinstance(url, str) or not url:
        return [docker]
    argv = [docker, "-H", url]
    tls = getattr(endpoint, "tls", None)
    if tls is not None and getattr(tls, "verify", False):
        argv += ["--tlsverify", "--tlscacert", tls.ca_file, "--tlscert", tls.cert_file,
                 "--tlskey", tls.key_file]  # fmt: skip
    return argv

"""Image references, and rewriting them to a private registry (pure).

A reference is ``[REGISTRY/]PATH[:TAG][@DIGEST]``. The first component is a registry when
it contains a dot or a colon or is ``localhost`` (Docker's rule); otherwise the image is on
Docker Hub, whose official images live under ``library/``.

Rewriting to a registry (``environments.E.registry`` in the stack file, and what
``envkit bundle push --registry`` tags): the original registry is dropped, Docker Hub's
``docker.io/`` and ``library/`` are dropped, and the tag (default ``latest``) is kept::

    busybox                       -> 127.0.0.1:5000/busybox:latest
    docker.io/library/mysql:5.7   -> 127.0.0.1:5000/mysql:5.7
    envkit/mariadb:latest         -> 127.0.0.1:5000/envkit/mariadb:latest
    quay.io/org/app:1             -> 127.0.0.1:5000/org/app:1

so an image pushed by ``bundle push`` is found under exactly the name ``up`` asks for.
"""

from __future__ import annotations

import dataclasses
import re

from envkit.imagename import HUB as _HUB
from envkit.imagename import registry_of, split_registry
from envkit.model import DesiredState

__all__ = ["REGISTRY_PATTERN", "registry_of", "split_registry", "to_registry", "with_registry"]

# HOST[:PORT][/PATH]: what `environments.E.registry` and `--registry` accept.
REGISTRY_PATTERN = r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[a-z0-9._/-]+)?$"
_REGISTRY = re.compile(REGISTRY_PATTERN)


def _with_tag(path: str) -> str:
    if "@" in path:
        return path
    last = path.rsplit("/", 1)[-1]
    return path if ":" in last else f"{path}:latest"


def to_registry(ref: str, registry: str) -> str:
    """The name of ``ref`` in ``registry`` (see the module docstring)."""
    host, path = split_registry(ref)
    if (host is None or host in _HUB) and path.startswith("library/"):
        path = path.removeprefix("library/")
    return f"{registry.rstrip('/')}/{_with_tag(path)}"


def is_registry(text: str) -> bool:
    return bool(_REGISTRY.match(text))


def with_registry(desired: DesiredState, registry: str | None) -> DesiredState:
    """Every pulled image of ``desired`` renamed into ``registry``. Services with ``build:``
    keep their (locally built) image name. ``None`` or ``""``: unchanged."""
    if not registry:
        return desired
    services = tuple(
        svc
        if svc.build is not None
        else dataclasses.replace(svc, image=to_registry(svc.image, registry))
        for svc in desired.services
    )
    return dataclasses.replace(desired, services=services)

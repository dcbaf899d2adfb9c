"""envkit: a declarative environment provisioner for Docker.

One stack file describes services; ``envkit up dev`` makes a Docker engine match it for the
environment ``dev``, changing only what differs. From Python::

    import envkit

    with envkit.load("envkit.yaml").ephemeral("ci") as env:
        host, port = env.port("db", 3306)

The API (:mod:`envkit.api`) is imported on first use, so ``import envkit`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envkit._lazy import lazy_exports

if TYPE_CHECKING:
    from envkit.api import Environment, Stack, from_dict, gc, load, loads
    from envkit.errors import EnvkitError

__version__ = "0.1.0"

__all__ = [
    "Environment",
    "EnvkitError",
    "Stack",
    "__version__",
    "from_dict",
    "gc",
    "load",
    "loads",
]

_LAZY = {
    "Environment": "envkit.api",
    "EnvkitError": "envkit.errors",
    "Stack": "envkit.api",
    "from_dict": "envkit.api",
    "gc": "envkit.api",
    "load": "envkit.api",
    "loads": "envkit.api",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())

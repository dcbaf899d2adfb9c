"""envkit: a declarative environment provisioner for Docker.

One stack file describes services; ``envkit up dev`` makes a Docker engine match it for the
environment ``dev``, changing only what differs.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

"""Which language a stack file speaks: envkit's own, or Docker Compose's.

The rule (documented in the README, "Coming from Compose"):

- A file is an **envkit stack file** when its top level has at least one of the keys only
  envkit knows: ``stack``, ``environments``, ``vars``, ``sensitive``. Any other file is a
  **Compose file**, read as Compose reads it.
- Files merged with several ``-f`` (and a Compose override file) take the dialect of the
  first one; a later file cannot switch it (see :func:`check_merged`). A file reached
  through ``include:`` is always a Compose file.
- In a Compose file ``{{`` is plain text (Go templates in labels are common): Jinja2 is
  envkit's layer and applies only to strings written in an envkit stack file. Each string
  is read in the dialect of the file it was written in, so a Compose file included by an
  envkit stack file keeps its labels as they are.

The **stack name** is ``stack:``, else Compose's ``name:``, else the name of the folder of
the (first) file normalised as Compose (compose-go's ``NormalizeProjectName``) does:
lowercased, every character outside ``[a-z0-9_-]`` dropped, leading ``_`` and ``-``
stripped. A file without ``environments:`` has one implicit environment,
:data:`IMPLICIT_ENVIRONMENT` (``default``), with no variables or overrides; its project is
``{stack}-default``. ``version:`` is accepted and ignored, as by Compose.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import Enum
from pathlib import Path
from typing import Any

__all__ = [
    "ENVKIT_KEYS",
    "IMPLICIT_ENVIRONMENT",
    "Dialect",
    "dialect_of",
    "environment_def",
    "environments_of",
    "normalize_project_name",
    "stack_name",
]

ENVKIT_KEYS = ("stack", "environments", "vars", "sensitive")
IMPLICIT_ENVIRONMENT = "default"
_PROJECT_CHAR = re.compile(r"[a-z0-9_-]")


class Dialect(Enum):
    ENVKIT = "envkit"
    COMPOSE = "compose"


def dialect_of(data: Mapping[str, Any]) -> Dialect:
    """ENVKIT when the top level has a key only envkit knows, else COMPOSE."""
    return Dialect.ENVKIT if any(key in data for key in ENVKIT_KEYS) else Dialect.COMPOSE


def normalize_project_name(name: str) -> str:
    """A folder name as a Compose project name: ``My App.v2`` -> ``myappv2``."""
    return "".join(_PROJECT_CHAR.findall(name.lower())).lstrip("_-")


def stack_name(data: Mapping[str, Any], directory: Path) -> str:
    """``stack:``, else ``name:``, else the normalised folder name ("" when none fits)."""
    for key in ("stack", "name"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
    return normalize_project_name(directory.name)


def environments_of(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The environments of a stack file: its ``environments:``, else the implicit one."""
    if "environments" not in data:
        return {IMPLICIT_ENVIRONMENT: {}}
    envs = data.get("environments")
    return envs if isinstance(envs, Mapping) else {}


def environment_def(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """The definition of environment ``name`` as written (``{}`` when it has none)."""
    found = environments_of(data).get(name)
    return found if isinstance(found, Mapping) else {}

"""Compose's ``profiles``: services that run only when one of their profiles is active.

The rules (Compose Specification, "Profiles"):

- A service without ``profiles`` is always enabled; one with ``profiles`` only when one of
  them is active. Every other top-level element (volumes) is always active.
- The active profiles are the ``--profile`` options, the comma-separated
  ``COMPOSE_PROFILES`` (process environment, or the environment's env files), and
  envkit's own ``environments.ENV.profiles``; ``*`` activates every profile.
- A dependency is never enabled implicitly: an enabled service whose ``depends_on`` names a
  disabled one is an error (``profile-disabled``), unless the dependency is marked
  ``required: false``, which is then dropped (as is a ``required: false`` dependency on a
  service the file does not have). (Compose enables a service's profile when the
  service is named on its command line; envkit's commands act on the whole environment,
  so there is no such case.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Disabled", "active_profiles", "enabled_services"]

ALL = "*"


@dataclass(frozen=True, slots=True)
class Disabled:
    """``service`` depends on ``dependency``, which no active profile enables."""

    service: str
    dependency: str
    profiles: tuple[str, ...]  # the dependency's profiles
    entry: str | int  # where under depends_on: the key, or the list index

    @property
    def message(self) -> str:
        return (
            f"'{self.service}' depends on '{self.dependency}', which is not enabled by the "
            f"active profiles (it has profiles: {', '.join(self.profiles)})"
        )

    @property
    def hint(self) -> str:
        first = self.profiles[0] if self.profiles else "NAME"
        return (
            f"activate one: --profile {first} or COMPOSE_PROFILES={first}; or mark the "
            "dependency 'required: false'"
        )


def active_profiles(
    cli: Iterable[str], env: Mapping[str, str], environment_profiles: Any
) -> frozenset[str]:
    """The active profiles: ``--profile`` values, ``COMPOSE_PROFILES`` and the
    environment's ``profiles`` list."""
    names = {p.strip() for p in cli}
    names.update(p.strip() for p in env.get("COMPOSE_PROFILES", "").split(","))
    if isinstance(environment_profiles, list):
        names.update(p for p in environment_profiles if isinstance(p, str))
    return frozenset(n for n in names if n)


def _profiles(body: Any) -> tuple[str, ...]:
    listed = body.get("profiles") if isinstance(body, Mapping) else None
    return tuple(p for p in listed if isinstance(p, str)) if isinstance(listed, list) else ()


def _entry(deps: Any, dep: str) -> str | int:
    return deps.index(dep) if isinstance(deps, list) else dep


def enabled_services(
    services: Mapping[str, Any], active: frozenset[str]
) -> tuple[dict[str, Any], list[Disabled]]:
    """The services the active profiles enable (``required: false`` dependencies on the
    others dropped), and every dependency an enabled service has on a disabled one."""

    def enabled(body: Any) -> bool:
        profiles = _profiles(body)
        return not profiles or ALL in active or bool(active.intersection(profiles))

    kept = {name: body for name, body in services.items() if enabled(body)}
    problems: list[Disabled] = []
    for name, body in list(kept.items()):
        deps = body.get("depends_on") if isinstance(body, Mapping) else None
        off = [
            dep for dep in (deps if isinstance(deps, list | Mapping) else ())
            if isinstance(dep, str) and dep not in kept
        ]  # fmt: skip
        if not off:
            continue
        optional = [
            dep for dep in off
            if isinstance(deps, Mapping) and isinstance(deps.get(dep), Mapping)
            and deps[dep].get("required") is False
        ]  # fmt: skip
        problems.extend(
            Disabled(name, dep, _profiles(services[dep]), _entry(deps, dep))
            for dep in off
            if dep not in optional and dep in services  # a missing one is checks.py's
        )
        if optional and isinstance(deps, Mapping):
            kept[name] = {
                **body,
                "depends_on": {k: v for k, v in deps.items() if k not in optional},
            }
    return kept, problems

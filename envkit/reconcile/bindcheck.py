"""What plan says about bind mount sources that do not exist (observed on an engine on this
host, :mod:`envkit.engine.bindsources`): for each container it will create or start, a
missing source the engine is to create (Compose's short syntax, or the long one with
``bind.create_host_path: true``) is said in the plan ("creates folder ..."); a missing
source of a long-syntax bind without it is a conflict (the engine would refuse it half-way
through ``up``), and so is one that must not be created (a symbolic link or a file on the
way). Pure: data in, data out; plan turns them into its Changes and Conflicts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from envkit.engine.base import BindSource
from envkit.model import MountType, ServiceSpec

__all__ = ["BindProblem", "bind_notes", "bind_problems"]


@dataclass(frozen=True, slots=True)
class BindProblem:
    code: str  # bind-source-missing | unsafe-bind-source
    message: str
    hint: str
    service: str


def _where(spec: ServiceSpec) -> str:
    return f"{spec.origin}: services.{spec.name}" if spec.origin else f"services.{spec.name}"


def bind_notes(spec: ServiceSpec, missing: Mapping[str, BindSource]) -> tuple[str, ...]:
    """The plan's words for the folders the engine will create for ``spec``'s container."""
    return tuple(
        f"creates folder {m.source}"
        for m in spec.mounts
        if m.type is MountType.BIND
        and m.create_host_path
        and m.source in missing
        and not missing[m.source].blocked
    )


def bind_problems(
    specs: Iterable[ServiceSpec], missing: Mapping[str, BindSource]
) -> list[BindProblem]:
    """The conflicts of the bind mounts of ``specs`` (the services with a container to
    create or start), one per service and source."""
    out: list[BindProblem] = []
    seen: set[tuple[str, str]] = set()
    for spec in specs:
        for m in spec.mounts:
            found = missing.get(m.source) if m.type is MountType.BIND else None
            if found is None or (spec.name, m.source) in seen:
                continue
            seen.add((spec.name, m.source))
            if found.blocked:
                out.append(
                    BindProblem(
                        "unsafe-bind-source",
                        f"{_where(spec)}: the bind source {m.source} (at {m.target}) does not "
                        f"exist, and envkit will not have the engine create it: "
                        f"{found.blocked}",
                        "the engine would create it as root, following the link; create the "
                        f"folder yourself (mkdir -p {m.source}) if that is where it belongs, "
                        "or point the bind at the real path",
                        spec.name,
                    )
                )
            elif not m.create_host_path:
                out.append(
                    BindProblem(
                        "bind-source-missing",
                        f"{_where(spec)}: the bind source {m.source} (at {m.target}) does not "
                        "exist",
                        f"create it (mkdir -p {m.source}), or add 'bind: {{create_host_path: "
                        "true}' to the mount (the short syntax SOURCE:TARGET creates it)",
                        spec.name,
                    )
                )
    return out

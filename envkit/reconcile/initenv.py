"""Warnings for environment changes that an existing data volume will not see. Pure.

Database images (MariaDB, MySQL, PostgreSQL, ...) read their init variables
(``MARIADB_ROOT_PASSWORD``, ``POSTGRES_USER``, ...) only when they find an empty data
directory. Once the service's named volume exists, a changed value recreates the container
with it, and the server goes on with the old one: ``DB_ROOT_PASSWORD=new envkit up test``
leaves the old password working. The plan cannot see inside a volume, so it says so:

- a service being recreated with a changed ``environment.*`` entry, that mounts a named
  volume which already exists, gets a warning (:data:`CODE`) naming the variables and the
  volume;
- ``init_env: [VAR, ...]`` on the service says which variables the image reads only on first
  start: then only those are warned about (``init_env: []``: none). Without it every
  environment change is, because envkit cannot know which ones the image reads once.

A warning never stops ``up``: the change may be meant (a setting read on every start).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from envkit.model import DesiredState, MountType, ServiceSpec
from envkit.reconcile.spec_diff import FieldDiff

__all__ = ["CODE", "PlanWarning", "init_env_warnings"]

CODE = "init-env-changed"
_PREFIX = "environment."


@dataclass(frozen=True, slots=True)
class PlanWarning:
    """Something the plan will do that may not have the effect one expects; never a stop."""

    code: str
    message: str
    hint: str | None = None
    service: str | None = None


def existing_volumes(desired: DesiredState, spec: ServiceSpec, present: Iterable[str]) -> list[str]:
    """The engine names of the named volumes ``spec`` mounts that exist (``present``)."""
    names = set(present)
    declared = {v.name: v for v in desired.volumes}
    found: list[str] = []
    for mount in spec.mounts:
        if mount.type is not MountType.VOLUME or not mount.source:
            continue
        vol = declared.get(mount.source)
        if vol is not None and vol.external:
            engine_name = vol.external_name or vol.name
        else:
            engine_name = desired.volume_name(mount.source)
        if engine_name in names and engine_name not in found:
            found.append(engine_name)
    return found


def init_env_warnings(
    desired: DesiredState, spec: ServiceSpec, diffs: Iterable[FieldDiff], present: Iterable[str]
) -> list[PlanWarning]:
    """The warning for one service being recreated with ``diffs`` while the volumes named in
    ``present`` exist (none when no variable that matters changed or no volume exists)."""
    env = {d.path[len(_PREFIX) :] for d in diffs if d.path.startswith(_PREFIX)}
    changed = sorted(env if spec.init_env is None else env & spec.init_env)
    if not changed:
        return []
    volumes = existing_volumes(desired, spec, present)
    if not volumes:
        return []
    names = ", ".join(changed)
    them, verb = ("it", "changes") if len(changed) == 1 else ("them", "change")
    where = ", ".join(volumes)
    message = (
        f"service {spec.name}: environment {names} {verb}, but its volume {where} already "
        f"exists; an image that reads {them} only when it initialises an empty volume "
        "(a database's passwords, users, database name) keeps the old value"
    )
    hint = (
        f"change {them} inside the service as well (for a database: ALTER USER ...), or start "
        f"from an empty volume (envkit down ENV --volumes: the data goes)"
    )
    if spec.init_env is None:
        hint += (
            f"; list the variables read only on first start under services.{spec.name}."
            "init_env to be warned about those alone (init_env: [] for none)"
        )
    return [PlanWarning(CODE, message, hint, spec.name)]

"""Expiry of throwaway instances: ttl -> timestamp, the lease, and what ``gc`` may reap.

Everything here is pure (no engine, no clock unless none is given).

The design (``envkit up --ttl``, ``envkit gc``):

- ``--ttl D`` stamps ``io.envkit.expires`` (RFC 3339 UTC, whole seconds, ``Z``) on every
  container, the network and every volume the ``up`` creates.
- Labels are immutable on the engine (containers, networks and volumes alike), so a later
  ``up --ttl`` of an unchanged instance could not move that stamp. The instance therefore
  also has a **lease**: a tiny, empty volume ``{project}.envkit-lease`` carrying the
  project's labels plus ``io.envkit.lease=1`` and the expiry. ``up --ttl`` replaces it
  (remove + create, under the instance lock) on every run, which extends the expiry. A
  volume because it is the one engine object that costs nothing, needs no image, and is
  visible to ``gc`` from any process on the engine host (a file under ENVKIT_STATE_DIR is
  not, and a label store is what the engine offers). It goes with ``down --volumes``.
- An instance's expiry is its lease's when it has one, else the latest expiry stamped on
  any of its objects; an instance none of whose objects carries one never expires.
- ``gc`` reaps an instance whose expiry has passed; with ``older_than`` also one whose
  newest container was created longer ago than that (only instances with an expiry, unless
  ``include_unexpiring``). Objects are grouped by ``io.envkit.project``: nothing without
  envkit's labels is ever considered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from envkit.errors import UsageError
from envkit.model import LABEL, ResourceKind
from envkit.units import Invalid, parse_duration

__all__ = [
    "LEASE_SUFFIX",
    "Candidate",
    "EnvkitObject",
    "Reason",
    "effective_expiry",
    "expires_at",
    "format_time",
    "is_lease",
    "lease_labels",
    "lease_name",
    "parse_time",
    "parse_ttl",
    "reapable",
]

LEASE_SUFFIX = ".envkit-lease"
LEASE_LABEL = "io.envkit.lease"
TTL_HINT = "write a duration like 90s, 15m, 2h, 1d or 1h30m (a plain number is seconds)"
MAX_TTL_S = 100 * 365 * 86400.0  # 100 years: the expiry stays a valid date
_DAYS = re.compile(r"(\d+(?:\.\d+)?)d(.*)")


def parse_ttl(ttl: str | float, *, what: str = "--ttl") -> float:
    """``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1d12h"``, ``"1h30m"`` or a number of
    seconds -> seconds (> 0, at most 100 years). Raises UsageError (exit 2) naming ``what``."""
    short = ttl if not isinstance(ttl, str) or len(ttl) <= 40 else ttl[:37] + "..."
    shown = repr(short) if isinstance(short, str) else str(short)
    try:
        if isinstance(ttl, str):
            text = ttl.strip()
            days = _DAYS.fullmatch(text)
            seconds = 0.0
            if days:
                seconds = float(days.group(1)) * 86400.0
                text = days.group(2)
                if re.fullmatch(r"[\d.]+", text):  # "1d2": 2 what?
                    raise Invalid("{value} is not a duration")
            if text or not days:
                seconds += parse_duration(text)
        else:
            seconds = parse_duration(ttl)
    except Invalid as exc:
        if "too long" in exc.message:
            too_long = UsageError(f"{what} {shown} is too long", hint=f"{TTL_HINT}; at most 36500d")
            raise too_long from exc
        raise UsageError(f"{what} {shown} is not a duration", hint=TTL_HINT) from exc
    if seconds <= 0:
        raise UsageError(f"{what} {shown} must be longer than zero", hint=TTL_HINT)
    if not seconds <= MAX_TTL_S:  # NaN too
        raise UsageError(f"{what} {shown} is too long", hint=f"{TTL_HINT}; at most 36500d")
    return seconds


def format_time(moment: datetime) -> str:
    """RFC 3339, UTC, whole seconds: ``2024-05-01T12:00:00Z``."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 timestamp as the engine or envkit writes it (``Z`` or an offset,
    optionally nanoseconds) -> aware datetime; None when it is not one."""
    text = text.strip()
    if not text:
        return None
    text = re.sub(r"[Zz]$", "+00:00", text)
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)  # nanoseconds -> microseconds
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def expires_at(ttl: str | float, now: datetime | None = None) -> str:
    """The ``io.envkit.expires`` value for an instance living ``ttl`` from ``now``."""
    now = now or datetime.now(UTC)
    return format_time(now + timedelta(seconds=parse_ttl(ttl)))


def lease_name(project: str) -> str:
    """The engine name of the instance's lease volume (cannot clash with ``{project}_x``)."""
    return project + LEASE_SUFFIX


def lease_labels(project_labels: Mapping[str, str], expires: str) -> dict[str, str]:
    labels = dict(project_labels)
    labels[LABEL.EXPIRES] = expires
    labels[LEASE_LABEL] = "1"
    return labels


def is_lease(labels: Mapping[str, str]) -> bool:
    return labels.get(LEASE_LABEL) == "1"


@dataclass(frozen=True, slots=True)
class EnvkitObject:
    """One engine object carrying ``io.envkit.project``, as gc sees it."""

    kind: ResourceKind
    name: str
    labels: Mapping[str, str]
    created: datetime | None = None

    @property
    def project(self) -> str:
        return self.labels.get(LABEL.PROJECT, "")


class Reason(Enum):
    EXPIRED = "expired"
    OLDER_THAN = "older-than"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A project gc may remove, and why."""

    project: str
    reason: Reason
    expires: datetime | None  # None: the instance has no expiry
    created: datetime | None  # its newest container's creation time
    objects: tuple[EnvkitObject, ...]

    @property
    def labels(self) -> Mapping[str, str]:
        return self.objects[0].labels if self.objects else {}


def effective_expiry(objects: Iterable[EnvkitObject]) -> datetime | None:
    """The lease's expiry when the project has one, else the latest stamped expiry."""
    objects = list(objects)
    for obj in objects:
        if obj.kind is ResourceKind.VOLUME and is_lease(obj.labels):
            moment = parse_time(obj.labels.get(LABEL.EXPIRES, ""))
            if moment is not None:
                return moment
    stamps = [parse_time(o.labels.get(LABEL.EXPIRES, "")) for o in objects]
    found = [s for s in stamps if s is not None]
    return max(found) if found else None


def _newest(objects: tuple[EnvkitObject, ...]) -> datetime | None:
    """When the instance was last (re)created: its newest container; without containers,
    its newest other object but the lease (which ``up --ttl`` renews)."""
    containers = [o for o in objects if o.kind is ResourceKind.CONTAINER]
    others = [o for o in objects if not (o.kind is ResourceKind.VOLUME and is_lease(o.labels))]
    for group in (containers, others, list(objects)):
        times = [o.created for o in group if o.created is not None]
        if times:
            return max(times)
    return None


def reapable(
    objects: Iterable[EnvkitObject],
    now: datetime,
    *,
    older_than_s: float | None = None,
    include_unexpiring: bool = False,
) -> list[Candidate]:
    """The projects gc removes, sorted by name. Objects without ``io.envkit.project`` are
    ignored whatever they are."""
    by_project: dict[str, list[EnvkitObject]] = {}
    for obj in objects:
        if obj.project:
            by_project.setdefault(obj.project, []).append(obj)
    out: list[Candidate] = []
    for project in sorted(by_project):
        objs = tuple(sorted(by_project[project], key=lambda o: (o.kind.value, o.name)))
        expiry = effective_expiry(objs)
        newest = _newest(objs)
        reason: Reason | None = None
        if expiry is not None and expiry <= now:
            reason = Reason.EXPIRED
        elif (
            older_than_s is not None
            and (expiry is not None or include_unexpiring)
            and newest is not None
            and (now - newest).total_seconds() > older_than_s
        ):
            reason = Reason.OLDER_THAN
        if reason is not None:
            out.append(Candidate(project, reason, expiry, newest, objs))
    return out

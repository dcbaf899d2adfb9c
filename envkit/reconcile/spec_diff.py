"""Field-level differences of two canonical specs (:func:`envkit.canonical.canonical_spec`), as
records (Terraform's ``Change{before, after}`` per attribute)::

    FieldDiff("image", "mysql:5.7", "mariadb:10")
    FieldDiff("environment.MYSQL_ROOT_PASSWORD", "(sensitive)", "(sensitive)", sensitive=True)
    FieldDiff("ports[0]", "127.0.0.1:3307->3306/tcp", "127.0.0.1:3308->3306/tcp")
    FieldDiff("labels.team", None, "core")
    FieldDiff("mem_limit", "64m", "128m")

Values are ready to show and never hold a secret: ``None`` is "unset"; ports and mounts are
in Docker's short syntax; sizes are written back in the largest unit that is exact (``64m``,
not ``67108864``) and durations as ``1m30s``, since the model keeps the parsed number only;
a sensitive environment value is ``(sensitive)``, and so is every occurrence of a sensitive
value or of its keyed token (:data:`envkit.model.SECRET_TOKEN`) inside a string. Lists
of scalars are tuples so that records hash.

Pure; used by the planner (:func:`spec_changes` applies the rules of the spec version
that recorded a container), shown by :mod:`envkit.reconcile.present`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from envkit.canonical import canonical_defaults, canonical_spec, spec_hash
from envkit.engine.base import ObservedContainer
from envkit.errors import SENSITIVE, redact
from envkit.model import (
    SECRET_KEY_FIELD,
    SECRET_TOKEN,
    Mount,
    MountType,
    PortSpec,
    Secrets,
    ServiceSpec,
)
from envkit.reconcile import legacy

__all__ = [
    "OTHER_KEY",
    "FieldDiff",
    "Shown",
    "format_port",
    "mount_text",
    "show_value",
    "spec_changes",
    "spec_differences",
]

Shown = str | int | float | bool | tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class FieldDiff:
    """One changed field of a container spec. ``path`` names the field as the stack file
    does (``environment.MODE``, ``ports[0]``, ``healthcheck.interval``)."""

    path: str
    before: Shown  # None = unset
    after: Shown  # None = unset
    sensitive: bool = False  # a value (or part of one) is masked as (sensitive)
    # Every container field does today (the engine cannot change a container in place);
    # kept per field so that output and tools need not assume it.
    forces_recreate: bool = True


# Canonical-spec fields that are lists of (key, value) pairs: diffed like mappings.
_PAIR_FIELDS = frozenset(
    {"labels", "extra_hosts", "build.args", "build.labels", "build.extra_hosts"}
)
_SIZE_FIELDS = frozenset({"mem_limit"})
_SIZE_UNITS = (("t", 1024**4), ("g", 1024**3), ("m", 1024**2), ("k", 1024))


def spec_differences(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    *,
    sensitive_env: Iterable[str] = (),
    secrets: Iterable[str] = (),
    hide_before: Iterable[str] = (),
) -> tuple[FieldDiff, ...]:
    """Field-level differences of two canonical specs, in the order of ``after``'s fields.
    Environment values of ``sensitive_env`` keys, and every occurrence of a value of
    ``secrets`` or of a keyed token, are masked. ``before`` text values under the top-level
    fields ``hide_before`` are masked whole (a recorded spec that may hold an old secret in
    clear: see :mod:`envkit.reconcile.legacy`)."""
    differ = _Differ(
        frozenset(sensitive_env), frozenset(s for s in secrets if s), frozenset(hide_before)
    )
    differ.mapping("", before, after)
    return tuple(differ.out)


def show_value(value: Shown) -> str:
    """How text output writes a value: strings quoted (JSON), ``(unset)``, a whole masked
    value as ``(sensitive)``, lists as JSON."""
    if value is None:
        return "(unset)"
    if value == SENSITIVE:
        return SENSITIVE
    return json.dumps(value, ensure_ascii=False)


OTHER_KEY = "sensitive value hashed with another envkit key"


def spec_changes(
    before: ObservedContainer, spec: ServiceSpec, secrets: Secrets
) -> tuple[tuple[FieldDiff, ...], list[str]]:
    """What changed between a container's recorded spec and ``spec``: the changed fields,
    and the reasons that are not one field; both empty when the container is unchanged
    under the rules of the spec version that recorded it (:mod:`envkit.reconcile.legacy`)."""
    if legacy.is_v1(before.spec_hash):
        if legacy.spec_hash_v1(spec) == before.spec_hash:
            return (), []
        recorded = json.loads(json.dumps(legacy.canonical_spec_v1(spec)))
        diffs = spec_differences(
            before.spec,
            recorded,
            sensitive_env=spec.sensitive_env,
            secrets=secrets.values,
            hide_before=legacy.HIDE_BEFORE,
        )
        return diffs, [] if diffs else [
            f"spec hash changed (recorded by spec version {legacy.VERSION})"
        ]
    if not before.spec:
        return (), ["spec hash changed (no recorded spec to compare)"]
    old_version = before.spec_hash.partition("-")[0]
    new_version = spec_hash(spec, secrets).partition("-")[0]
    desired = canonical_spec(spec, secrets)
    defaults = canonical_defaults()  # left out of both; shown where one side changes them
    diffs = tuple(
        d
        for d in spec_differences(
            {**defaults, **before.spec},
            {**defaults, **desired},
            sensitive_env=spec.sensitive_env,
            secrets=secrets.values,
        )
        if d.path != SECRET_KEY_FIELD
    )
    old_key, new_key = before.spec.get(SECRET_KEY_FIELD), desired.get(SECRET_KEY_FIELD)
    if old_key and new_key and old_key != new_key:
        # Every masked value differs under another key: whether it changed is unknown.
        kept = tuple(d for d in diffs if not (d.sensitive and d.before == d.after))
        return kept, [OTHER_KEY]
    if diffs:
        return diffs, []
    if old_version != new_version:
        return (), [f"spec format changed ({old_version} -> {new_version})"]
    return (), ["spec hash changed"]


class _Missing:
    def __bool__(self) -> bool:
        return False


_MISSING: Any = _Missing()


class _Differ:
    def __init__(
        self, sensitive_env: frozenset[str], secrets: frozenset[str], hide_before: frozenset[str]
    ) -> None:
        self.sensitive_env = sensitive_env
        self.secrets = secrets
        self.hide_before = hide_before
        self.out: list[FieldDiff] = []

    def mapping(self, prefix: str, before: Any, after: Any) -> None:
        old_map = before if isinstance(before, Mapping) else {}
        new_map = after if isinstance(after, Mapping) else {}
        keys = [*new_map, *sorted(k for k in old_map if k not in new_map)]
        for key in keys:
            path = f"{prefix}.{key}" if prefix else str(key)
            old, new = old_map.get(key, _MISSING), new_map.get(key, _MISSING)
            if old != new:
                self.field(path, old, new)

    def field(self, path: str, old: Any, new: Any) -> None:
        if path == "environment":
            for name, a, b in _changed_items(_as_map(old), _as_map(new)):
                self.add(f"environment.{name}", a, b, whole=name in self.sensitive_env)
        elif path in _PAIR_FIELDS and _is_pairs(old) and _is_pairs(new):
            self.mapping(path, _pairs(old), _pairs(new))
        elif _is_map(old) and _is_map(new) and (old or new):
            self.mapping(path, old or {}, new or {})
        elif _is_list(old) and _is_list(new) and _has_mappings(old, new):
            old, new = old or [], new or []
            for i in range(max(len(old), len(new))):
                a = old[i] if i < len(old) else _MISSING
                b = new[i] if i < len(new) else _MISSING
                if a != b:
                    self.add(f"{path}[{i}]", _item(path, a), _item(path, b))
        else:
            self.add(path, old, new)

    def add(self, path: str, old: Any, new: Any, *, whole: bool = False) -> None:
        top = path.split(".", 1)[0].split("[", 1)[0]
        hide = whole or (top in self.hide_before and isinstance(old, str | list | tuple))
        (a, masked_a), (b, masked_b) = self.mask(old, hide), self.mask(new, whole)
        if path.endswith("_s"):
            path, a, b = path[:-2], _duration(a), _duration(b)
        elif path in _SIZE_FIELDS:
            a, b = _size(a), _size(b)
        self.out.append(FieldDiff(path, a, b, sensitive=masked_a or masked_b))

    def mask(self, value: Any, whole: bool) -> tuple[Shown, bool]:
        if value is _MISSING or value is None:
            return None, False
        if whole:
            return SENSITIVE, True
        if isinstance(value, str):
            shown = redact(SECRET_TOKEN.sub(SENSITIVE, value), self.secrets)
            return shown, shown != value
        if isinstance(value, list | tuple):
            parts = [self.mask(v, False) for v in value]
            return tuple(p for p, _ in parts), any(m for _, m in parts)
        if isinstance(value, Mapping):
            text, masked = self.mask(json.dumps(value, sort_keys=True), False)
            return text, masked
        if isinstance(value, bool | int | float):
            return value, False
        return str(value), False


def _changed_items(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    names = [*new, *sorted(k for k in old if k not in new)]
    pairs = ((n, old.get(n, _MISSING), new.get(n, _MISSING)) for n in names)
    return [(n, a, b) for n, a, b in pairs if a != b]


def _as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _is_map(value: Any) -> bool:
    return value is _MISSING or value is None or isinstance(value, Mapping)


def _is_list(value: Any) -> bool:
    return value is _MISSING or value is None or isinstance(value, list | tuple)


def _has_mappings(old: Any, new: Any) -> bool:
    items = [*(old or ()), *(new or ())]
    return any(isinstance(v, Mapping) for v in items)


def _is_pairs(value: Any) -> bool:
    return value is _MISSING or (
        isinstance(value, list) and all(isinstance(p, list | tuple) and len(p) == 2 for p in value)
    )


def _pairs(value: Any) -> dict[str, Any]:
    return {} if value is _MISSING else {str(k): v for k, v in value}


def _item(path: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        try:
            if path == "ports":
                return format_port(
                    PortSpec(
                        target=int(value["target"]),
                        protocol=str(value.get("protocol") or "tcp"),
                        host_ip=str(value.get("host_ip") or ""),
                        published=None
                        if value.get("published") is None
                        else int(value["published"]),
                        published_last=None
                        if value.get("published_last") is None
                        else int(value["published_last"]),
                    )
                )
            if path == "mounts":
                return _format_mount(value)
        except (KeyError, TypeError, ValueError):
            pass
    return value


def _size(value: Shown) -> Shown:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return value
    for unit, factor in _SIZE_UNITS:
        if value % factor == 0:
            return f"{value // factor}{unit}"
    return f"{value}b"


def _duration(value: Shown) -> Shown:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    ms = round(value * 1000)
    if abs(ms - value * 1000) > 1e-6 or ms <= 0:
        return f"{value:g}s"
    out = ""
    for unit, factor in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms >= factor:
            out += f"{ms // factor}{unit}"
            ms %= factor
    return out + (f"{ms}ms" if ms else "")


def format_port(port: PortSpec) -> str:
    """``127.0.0.1:3307->3306/tcp``; a port the engine picks shows ``*`` as host port, one
    it picks from a range the range (``8000-8010->80/tcp``)."""
    host = port.published_text() or "*"
    if port.host_ip:
        host = f"{port.host_ip}:{host}"
    return f"{host}->{port.target}/{port.protocol}"


def mount_text(mount: Mount) -> str:
    """``volume data:/var/lib/mysql:ro``, ``bind /srv/conf:/etc/conf``, ``tmpfs /run``."""
    data = {f.name: getattr(mount, f.name) for f in fields(mount)}
    data["type"] = mount.type.value
    data["propagation"] = mount.propagation.value if mount.propagation else None
    return _format_mount(data)


def _format_mount(m: Mapping[str, Any]) -> str:
    """A mount as the canonical spec holds it (options at their default left out), with its
    options after the path: ``bind /h:/c:ro,z,rslave``, ``tmpfs /t:size=1024,mode=0o700``."""
    kind, source, target = m["type"], str(m.get("source") or ""), str(m["target"])
    modes = [
        *(["ro"] if m.get("read_only") else []),
        *([str(m["selinux"])] if m.get("selinux") else []),
        *([str(m["propagation"])] if m.get("propagation") else []),
        *(["nocopy"] if m.get("no_copy") else []),
        *([f"subpath={m['subpath']}"] if m.get("subpath") else []),
        *(["create_host_path"] if m.get("create_host_path") else []),
        *([f"size={m['tmpfs_size']}"] if m.get("tmpfs_size") is not None else []),
        *([f"mode={int(m['tmpfs_mode']):#o}"] if m.get("tmpfs_mode") is not None else []),
    ]
    suffix = f":{','.join(modes)}" if modes else ""
    if kind == MountType.TMPFS.value:
        return f"tmpfs {target}{suffix}"
    if kind == MountType.VOLUME.value and not source:
        return f"volume (anonymous):{target}{suffix}"
    return f"{kind} {source}:{target}{suffix}"

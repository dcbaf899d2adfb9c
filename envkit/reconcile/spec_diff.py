"""Field-level differences of two canonical specs (:func:`envkit.model.canonical_spec`),
for the reasons of a recreate: ``path: old -> new`` lines such as

    image: mysql:5.7 -> mariadb:10
    environment.MYSQL_ROOT_PASSWORD: (sensitive) -> (sensitive)
    ports[0]: 127.0.0.1:3307->3306/tcp -> 127.0.0.1:3308->3306/tcp
    labels.team: (unset) -> core

Pure; used by the planner. Values of sensitive environment keys are never shown.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from envkit.model import MountType, PortSpec

__all__ = ["SENSITIVE_SHOWN", "UNSET", "format_port", "spec_differences"]

UNSET = "(unset)"
SENSITIVE_SHOWN = "(sensitive)"
# Canonical-spec fields that are lists of (key, value) pairs: diffed like mappings.
_PAIR_FIELDS = frozenset({"labels", "extra_hosts", "build.args", "build.driver_opts"})


def spec_differences(
    before: Mapping[str, Any], after: Mapping[str, Any], sensitive_env: Iterable[str] = ()
) -> list[str]:
    """Field-level differences of two canonical specs, as ``path: old -> new`` lines, in the
    order of ``after``'s fields. Environment values of ``sensitive_env`` keys are shown as
    ``(sensitive)``; ports and mounts in Docker's short syntax."""
    out: list[str] = []
    _diff_mapping("", before, after, frozenset(sensitive_env), out)
    return out


def _diff_mapping(
    prefix: str,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    sensitive: frozenset[str],
    out: list[str],
) -> None:
    keys = [*after, *sorted(k for k in before if k not in after)]
    for key in keys:
        path = f"{prefix}.{key}" if prefix else str(key)
        old, new = before.get(key, _MISSING), after.get(key, _MISSING)
        if old == new:
            continue
        if path == "environment" and isinstance(old, Mapping) and isinstance(new, Mapping):
            for name in [*new, *sorted(k for k in old if k not in new)]:
                a, b = old.get(name, _MISSING), new.get(name, _MISSING)
                if a != b:
                    masked = name in sensitive
                    out.append(f"environment.{name}: {_show(a, masked)} -> {_show(b, masked)}")
        elif path in _PAIR_FIELDS and _is_pairs(old) and _is_pairs(new):
            _diff_mapping(path, _pairs(old), _pairs(new), frozenset(), out)
        elif isinstance(old, Mapping) and isinstance(new, Mapping):
            _diff_mapping(path, old, new, frozenset(), out)
        elif (
            isinstance(old, list)
            and isinstance(new, list)
            and any(isinstance(v, Mapping) for v in (*old, *new))
        ):
            for i in range(max(len(old), len(new))):
                a = old[i] if i < len(old) else _MISSING
                b = new[i] if i < len(new) else _MISSING
                if a != b:
                    out.append(f"{path}[{i}]: {_show_item(path, a)} -> {_show_item(path, b)}")
        else:
            out.append(f"{path}: {_show(old)} -> {_show(new)}")


class _Missing:
    def __repr__(self) -> str:
        return UNSET


_MISSING: Any = _Missing()


def _is_pairs(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(p, list | tuple) and len(p) == 2 for p in value
    )


def _pairs(value: Any) -> dict[str, Any]:
    return {str(k): v for k, v in value}


def _show(value: Any, masked: bool = False) -> str:
    if value is _MISSING or value is None:
        return UNSET
    if masked:
        return SENSITIVE_SHOWN
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _show_item(path: str, value: Any) -> str:
    if isinstance(value, Mapping):
        try:
            if path == "ports":
                return format_port(
                    PortSpec(
                        target=int(value["target"]),
                        protocol=str(value.get("protocol", "tcp")),
                        host_ip=str(value.get("host_ip") or ""),
                        published=None
                        if value.get("published") is None
                        else int(value["published"]),
                    )
                )
            if path == "mounts":
                return _format_mount(value)
        except (KeyError, TypeError, ValueError):
            pass
    return _show(value)


def format_port(port: PortSpec) -> str:
    """``127.0.0.1:3307->3306/tcp``; a port the engine picks shows ``*`` as host port."""
    host = "*" if port.published is None else str(port.published)
    if port.host_ip:
        host = f"{port.host_ip}:{host}"
    return f"{host}->{port.target}/{port.protocol}"


def _format_mount(m: Mapping[str, Any]) -> str:
    kind, source, target = m["type"], str(m.get("source") or ""), str(m["target"])
    suffix = ":ro" if m.get("read_only") else ""
    if kind == MountType.TMPFS.value:
        return f"tmpfs {target}{suffix}"
    if kind == MountType.VOLUME.value and not source:
        return f"volume (anonymous):{target}{suffix}"
    return f"{kind} {source}:{target}{suffix}"

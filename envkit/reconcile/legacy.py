"""The previous spec hash version's rules, frozen, so that an upgrade of envkit does not
recreate every container it manages.

A container made by envkit with ``SPEC_HASH_VERSION`` 1 carries ``io.envkit.spec-hash``
``v1-…`` and, in ``io.envkit.spec``, the version-1 canonical spec: every field (defaults
included), sensitive environment values as an unkeyed ``sha256:`` + 16 hex digits, and any
other string (a secret inside ``command``, ``healthcheck.test`` or ``labels`` included) in
clear. The planner computes the version-1 hash of the desired spec with the frozen code
below: equal means unchanged under the old rules, and the container is kept. Otherwise it
diffs the recorded spec with the version-1 form of the desired spec, hiding the recorded
text values of the fields that may hold an old secret in clear (:data:`HIDE_BEFORE`).

The field lists are frozen too: a field added to the model after version 1 is included
only when it is not at its default value (then the container must change anyway). The
values computed here live in memory only; they are never written or shown.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, fields
from enum import Enum
from typing import Any

from envkit.model import ServiceSpec

__all__ = ["HIDE_BEFORE", "VERSION", "canonical_spec_v1", "is_v1", "spec_hash_v1"]

VERSION = 1

# Version 1's fields of each model class (ServiceSpec: those it hashed).
_V1_FIELDS = {
    "ServiceSpec": (
        "image", "build", "command", "entrypoint", "environment", "ports", "mounts",
        "healthcheck", "restart", "labels", "user", "working_dir", "hostname", "extra_hosts",
        "cap_add", "cap_drop", "privileged", "tmpfs", "init", "stop_grace_period_s",
        "mem_limit", "cpus",
    ),
    "BuildSpec": ("context", "dockerfile", "args", "target", "context_hash"),
    "PortSpec": ("target", "protocol", "host_ip", "published"),
    "Mount": ("type", "target", "source", "read_only"),
    "Healthcheck": ("test", "interval_s", "timeout_s", "start_period_s", "retries"),
}  # fmt: skip
# pull_refresh_s came later, but is part of pull_policy, which version 1 left out too.
_NOT_HASHED = frozenset(
    {"name", "replicas", "depends_on", "pull_policy", "pull_refresh_s", "origin", "sensitive_env"}
)

# Top-level fields whose recorded text may hold a secret in clear under version 1.
HIDE_BEFORE = frozenset(
    {"command", "entrypoint", "environment", "healthcheck", "labels", "user", "working_dir",
     "hostname", "extra_hosts", "tmpfs", "build"}
)  # fmt: skip


def is_v1(spec_hash: str) -> bool:
    return spec_hash.startswith(f"v{VERSION}-")


def _kept_fields(value: Any) -> list[str]:
    frozen = _V1_FIELDS.get(type(value).__name__, ())
    out = []
    for f in fields(value):
        if f.name in frozen:
            out.append(f.name)
        elif f.name not in _NOT_HASHED:
            default = f.default if f.default is not MISSING else MISSING
            if default is MISSING and f.default_factory is not MISSING:
                default = f.default_factory()
            if default is MISSING or getattr(value, f.name) != default:
                out.append(f.name)
    return out


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(_jsonable(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return {name: _jsonable(getattr(value, name)) for name in _kept_fields(value)}
    return value


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def canonical_spec_v1(spec: ServiceSpec) -> dict[str, Any]:
    """Version 1's canonical spec of ``spec`` (holds secrets in clear: memory only)."""
    out: dict[str, Any] = {}
    for name in _kept_fields(spec):
        value = _jsonable(getattr(spec, name))
        if name == "environment":
            value = {k: (_digest(v) if k in spec.sensitive_env else v) for k, v in spec.environment}
        out[name] = value
    return out


def spec_hash_v1(spec: ServiceSpec) -> str:
    """Version 1's ``io.envkit.spec-hash`` of ``spec``."""
    canonical = json.dumps(canonical_spec_v1(spec), sort_keys=True, separators=(",", ":"))
    secret_part = "".join(
        hashlib.sha256(v.encode()).hexdigest()
        for k, v in spec.environment
        if k in spec.sensitive_env
    )
    digest = hashlib.sha256(f"{VERSION}\0{canonical}\0{secret_part}".encode()).hexdigest()
    return f"v{VERSION}-{digest[:32]}"

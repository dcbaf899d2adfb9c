"""The canonical form of a service: what envkit writes onto the engine and compares.

:func:`canonical_spec` is the container-relevant part of a :class:`~envkit.model.ServiceSpec`
with defaults left out and every secret replaced by its keyed token; it is the
``io.envkit.spec`` label, and :func:`spec_hash` (versioned, pinned by a test) is the
``io.envkit.spec-hash`` label the planner compares. :func:`container_labels` and
:func:`project_labels` are every label envkit puts on what it creates.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, fields
from enum import Enum
from typing import Any

from envkit.masking import NO_SECRETS, SECRET_KEY_FIELD, Masker, Secrets
from envkit.model import LABEL, DesiredState, ServiceSpec

__all__ = [
    "SPEC_HASH_VERSION",
    "canonical_defaults",
    "canonical_spec",
    "container_labels",
    "envkit_version",
    "project_labels",
    "service_fields",
    "spec_hash",
    "spec_json",
]

# Bump only deliberately, and teach the planner the previous version's rules
# (envkit.reconcile.legacy) so that existing containers are compared, not recreated.
# 1: every field, sensitive environment values as unkeyed sha256[:16].
# 2: fields at their default value left out; every sensitive value, wherever it appears,
#    replaced by a keyed token (SECRET_TOKEN) and the key's id recorded (SECRET_KEY_FIELD).
SPEC_HASH_VERSION = 2


# Fields that do not change the container itself (Compose leaves the same ones out of its
# config hash): how many, in which order, and how the image is obtained.
_NOT_HASHED = frozenset(
    {
        "name",
        "replicas",
        "depends_on",
        "pull_policy",
        "pull_refresh_s",
        "origin",
        "sensitive_env",
        "init_env",
    }
)


def _jsonable(value: Any, *, full: bool = False) -> Any:
    """JSON-able data; a dataclass becomes a mapping of its fields that are not at their
    default value (so a field added later, at its default, changes no hash), or of all its
    fields with ``full``."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_jsonable(v, full=full) for v in value]
    if isinstance(value, frozenset):
        return sorted(_jsonable(v, full=full) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        out: dict[str, Any] = {}
        for f in fields(value):
            item = getattr(value, f.name)
            if f.name == "origin" or (
                not full
                and (
                    _is_default(f.default, f.default_factory, item)
                    or f.metadata.get("hashed") is False
                )
            ):
                continue
            out[f.name] = _jsonable(item, full=full)
        return out
    return value


def service_fields(spec: ServiceSpec) -> dict[str, Any]:
    """Every container-relevant field of a service as JSON-able data, defaults included
    and values as they are (secrets in clear: for ``render``, which redacts its output)."""
    out = {
        f.name: _jsonable(getattr(spec, f.name), full=True)
        for f in fields(spec)
        if f.name not in _NOT_HASHED
    }
    out["environment"] = dict(spec.environment)
    return out


def _is_default(default: Any, factory: Any, value: Any) -> bool:
    if default is not MISSING:
        return bool(value == default)
    return factory is not MISSING and bool(value == factory())


def canonical_spec(spec: ServiceSpec, secrets: Secrets = NO_SECRETS) -> dict[str, Any]:
    """The container-relevant fields of a service that are not at their default value, as
    JSON-able data. Every sensitive value (``secrets.values``, and the values of
    ``spec.sensitive_env``), wherever it appears, whole or inside a longer string, is
    replaced by its keyed token, and ``secret_key_id`` names the key. This is what the
    ``io.envkit.spec`` label holds and what plan diffs field by field; it never contains a
    secret in clear, nor an unkeyed digest of one."""
    env_secrets = {v for k, v in spec.environment if k in spec.sensitive_env}
    masker = Masker(secrets.values | env_secrets, secrets.key)
    out: dict[str, Any] = {}
    for f in fields(spec):
        value = getattr(spec, f.name)
        if f.name in _NOT_HASHED or _is_default(f.default, f.default_factory, value):
            continue
        if f.name == "options":  # each option is a field of its own, by its Compose name
            for o in fields(value):
                item = getattr(value, o.name)
                if not _is_default(o.default, o.default_factory, item):
                    out[o.name] = masker.data(_jsonable(item))
            continue
        if f.name == "environment":
            out[f.name] = {
                k: (masker.token(v) if k in spec.sensitive_env else masker.text(v))
                for k, v in spec.environment
            }
        else:
            out[f.name] = masker.data(_jsonable(value))
    if masker.used and secrets.key is not None:
        out[SECRET_KEY_FIELD] = secrets.key.key_id
    return out


def canonical_defaults() -> dict[str, Any]:
    """The defaults :func:`canonical_spec` leaves out that are worth showing (not null, not
    empty): ``restart: no`` when a diff shows ``restart: "no" -> "always"``."""
    out: dict[str, Any] = {}
    for f in fields(ServiceSpec):
        if f.name not in _NOT_HASHED and f.default not in (MISSING, None):
            value = _jsonable(f.default)
            if value not in ((), [], {}, ""):
                out[f.name] = value
    return out


def spec_json(spec: ServiceSpec, secrets: Secrets = NO_SECRETS) -> str:
    """:func:`canonical_spec` as the compact JSON text of the ``io.envkit.spec`` label."""
    return json.dumps(canonical_spec(spec, secrets), sort_keys=True, separators=(",", ":"))


def spec_hash(spec: ServiceSpec, secrets: Secrets = NO_SECRETS) -> str:
    """Stable, versioned hash of :func:`canonical_spec`. Pinned by a test: any change to
    the output for an unchanged spec must come with a SPEC_HASH_VERSION bump. A changed
    secret changes its 128-bit keyed token, hence the hash."""
    canonical = spec_json(spec, secrets)
    digest = hashlib.sha256(f"{SPEC_HASH_VERSION}\0{canonical}".encode()).hexdigest()
    return f"v{SPEC_HASH_VERSION}-{digest[:32]}"


def envkit_version() -> str:
    """The running envkit's version, for the ``io.envkit.version`` label."""
    from envkit import __version__

    return __version__


def project_labels(desired: DesiredState, *, expires: str | None = None) -> dict[str, str]:
    """The labels every object of the instance carries (networks and volumes get exactly
    these, plus ``io.envkit.volume`` on a volume). ``expires``: RFC 3339 UTC, throwaway
    instances only."""
    labels = {
        LABEL.STACK: desired.stack,
        LABEL.ENV: desired.environment,
        LABEL.PROJECT: desired.project,
        LABEL.VERSION: envkit_version(),
    }
    if desired.instance:
        labels[LABEL.INSTANCE] = desired.instance
    if expires:
        labels[LABEL.EXPIRES] = expires
    return labels


def container_labels(
    desired: DesiredState, spec: ServiceSpec, replica: int, *, expires: str | None = None
) -> dict[str, str]:
    """Every label of the container ``{project}-{service}-{replica}``: the user's labels,
    then envkit's (which win: a user label cannot fake an envkit identity). The spec label
    is :func:`canonical_spec`, so it never holds a secret in clear; nor does a user label:
    a sensitive value in its value is replaced by its keyed token there too."""
    env_secrets = {v for k, v in spec.environment if k in spec.sensitive_env}
    masker = Masker(desired.sensitive_values | env_secrets, desired.secret_key)
    labels = {k: masker.text(v) for k, v in spec.labels if not k.startswith(LABEL.PREFIX)}
    labels.update(project_labels(desired, expires=expires))
    labels[LABEL.SERVICE] = spec.name
    labels[LABEL.REPLICA] = str(replica)
    labels[LABEL.SPEC_HASH] = spec_hash(spec, desired.secrets)
    labels[LABEL.SPEC] = spec_json(spec, desired.secrets)
    return labels

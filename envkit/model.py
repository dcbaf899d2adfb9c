"""The desired state of one environment instance: frozen, slotted, hashable values.

Everything here is pure. Short and long spellings of the stack file are normalized (by
``envkit.stackfile.normalize``) into these types, so two spellings of the same thing compare equal
and hash the same.

Identity (``design.md``): project ``{stack}-{env}[-{instance}]``, containers
``{project}-{service}-{n}``, network ``{project}``, volumes ``{project}_{volume}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from envkit.errors import Origin

__all__ = [
    "LABEL",
    "PROTOCOLS",
    "SPEC_HASH_VERSION",
    "WILDCARD_ADDRESSES",
    "BuildSpec",
    "Condition",
    "Dependency",
    "DesiredState",
    "Healthcheck",
    "Mount",
    "MountType",
    "PortSpec",
    "PullPolicy",
    "ResourceKind",
    "ServiceSpec",
    "VolumeSpec",
    "addresses_overlap",
    "canonical_spec",
    "container_labels",
    "container_name",
    "envkit_version",
    "is_wildcard",
    "project_labels",
    "spec_hash",
]

# Bump only deliberately: changing it recreates every container envkit manages.
SPEC_HASH_VERSION = 1


PROTOCOLS = ("tcp", "udp", "sctp")  # what a published port can carry
WILDCARD_ADDRESSES = frozenset({"", "0.0.0.0", "::"})  # a host IP meaning every address


def is_wildcard(host_ip: str) -> bool:
    """Whether a host address means every address (unset, ``0.0.0.0``, ``::``)."""
    return host_ip in WILDCARD_ADDRESSES


def addresses_overlap(a: str, b: str) -> bool:
    """Whether ports bound on host addresses ``a`` and ``b`` would collide."""
    return is_wildcard(a) or is_wildcard(b) or a == b


class LABEL:
    """Label keys on every object envkit creates. envkit never touches an object without them."""

    PREFIX = "io.envkit."
    STACK = "io.envkit.stack"
    ENV = "io.envkit.env"
    INSTANCE = "io.envkit.instance"
    PROJECT = "io.envkit.project"
    SERVICE = "io.envkit.service"
    REPLICA = "io.envkit.replica"
    SPEC_HASH = "io.envkit.spec-hash"
    SPEC = "io.envkit.spec"  # canonical spec JSON, secrets replaced by digests
    VERSION = "io.envkit.version"
    EXPIRES = "io.envkit.expires"  # RFC 3339 UTC, throwaway instances only
    VOLUME = "io.envkit.volume"  # stack-level volume name
    ONEOFF = "io.envkit.oneoff"  # "true" on `envkit run` containers: never a replica


class ResourceKind(Enum):
    """The kinds of engine object envkit owns (plan's changes, gc's objects)."""

    CONTAINER = "container"
    NETWORK = "network"
    VOLUME = "volume"


class MountType(Enum):
    VOLUME = "volume"
    BIND = "bind"
    TMPFS = "tmpfs"


class Condition(Enum):
    STARTED = "service_started"
    HEALTHY = "service_healthy"
    COMPLETED = "service_completed_successfully"


class PullPolicy(Enum):
    ALWAYS = "always"
    MISSING = "missing"
    NEVER = "never"
    BUILD = "build"


@dataclass(frozen=True, slots=True)
class PortSpec:
    """One published port. Ranges are expanded into one PortSpec per port."""

    target: int  # container port
    protocol: str = "tcp"  # tcp | udp | sctp
    host_ip: str = ""  # "" = all interfaces
    published: int | None = None  # None = the engine picks a free host port

    def key(self) -> str:
        """``3306/tcp`` — how Docker names the container side."""
        return f"{self.target}/{self.protocol}"


@dataclass(frozen=True, slots=True)
class Mount:
    type: MountType
    target: str  # absolute path in the container
    source: str = ""  # volume: stack-level name ("" = anonymous); bind: absolute host path
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class Healthcheck:
    test: tuple[str, ...]  # ("CMD", ...), ("CMD-SHELL", "..."), or ("NONE",)
    interval_s: float | None = None
    timeout_s: float | None = None
    start_period_s: float | None = None
    retries: int | None = None

    @property
    def disabled(self) -> bool:
        return self.test == ("NONE",)


@dataclass(frozen=True, slots=True)
class Dependency:
    service: str
    condition: Condition = Condition.STARTED


@dataclass(frozen=True, slots=True)
class BuildSpec:
    context: str  # absolute path
    dockerfile: str = "Dockerfile"
    args: tuple[tuple[str, str], ...] = ()
    target: str | None = None
    context_hash: str = ""  # content hash of the context (honours .dockerignore)


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One service of the rendered stack, normalized. Tuples are sorted where order is not
    meaningful (environment, labels, capabilities) so equal specs compare equal."""

    name: str
    image: str
    build: BuildSpec | None = None
    command: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    environment: tuple[tuple[str, str], ...] = ()  # sorted by key
    ports: tuple[PortSpec, ...] = ()
    mounts: tuple[Mount, ...] = ()  # volumes, binds and tmpfs, in declared order
    depends_on: tuple[Dependency, ...] = ()
    healthcheck: Healthcheck | None = None
    restart: str = "no"  # no | always | unless-stopped | on-failure[:N]
    labels: tuple[tuple[str, str], ...] = ()  # user labels, sorted
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    extra_hosts: tuple[tuple[str, str], ...] = ()  # (host, ip), sorted
    cap_add: tuple[str, ...] = ()  # sorted
    cap_drop: tuple[str, ...] = ()  # sorted
    privileged: bool = False
    tmpfs: tuple[str, ...] = ()  # "/path[:options]"
    init: bool | None = None
    stop_grace_period_s: float | None = None
    mem_limit: int | None = None  # bytes
    cpus: float | None = None
    replicas: int = 1
    pull_policy: PullPolicy = PullPolicy.MISSING
    # Names of environment variables whose values are sensitive (masked in output and labels).
    sensitive_env: frozenset[str] = frozenset()
    origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    name: str  # stack-level name; the engine name is f"{project}_{name}"
    driver: str = "local"
    driver_opts: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    external: bool = False  # not created or removed by envkit; must exist
    origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class DesiredState:
    stack: str
    environment: str
    instance: str | None
    services: tuple[ServiceSpec, ...]  # in declared order
    volumes: tuple[VolumeSpec, ...] = ()
    source: str = ""  # the stack file, for messages
    # Every sensitive value of this render (env-file values, secret-looking vars). Printers
    # redact them; they never go into labels or output.
    sensitive_values: frozenset[str] = field(default=frozenset(), compare=False, repr=False)

    @property
    def project(self) -> str:
        base = f"{self.stack}-{self.environment}"
        return f"{base}-{self.instance}" if self.instance else base

    @property
    def network(self) -> str:
        return self.project

    def volume_name(self, name: str) -> str:
        for vol in self.volumes:
            if vol.name == name and vol.external:
                return name
        return f"{self.project}_{name}"

    def service(self, name: str) -> ServiceSpec:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)


def is_oneoff(labels: Mapping[str, str]) -> bool:
    """Whether a container is an ``envkit run`` one-off: never a replica, never planned or
    pruned by ``up``, removed by ``down`` and ``gc`` with the instance."""
    return labels.get(LABEL.ONEOFF) == "true"


def container_name(project: str, service: str, replica: int) -> str:
    return f"{project}-{service}-{replica}"


# Fields that do not change the container itself (Compose leaves the same ones out of its
# config hash): how many, in which order, and how the image is obtained.
_NOT_HASHED = frozenset(
    {"name", "replicas", "depends_on", "pull_policy", "origin", "sensitive_env"}
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, frozenset):
        return sorted(_jsonable(v) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        return {
            name: _jsonable(getattr(value, name))
            for name in value.__dataclass_fields__
            if name != "origin"
        }
    return value


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def canonical_spec(spec: ServiceSpec) -> dict[str, Any]:
    """The container-relevant fields of a service as JSON-able data, with every sensitive
    environment value replaced by a digest. This is what the ``io.envkit.spec`` label holds
    and what plan diffs field by field; it never contains a secret in clear."""
    out: dict[str, Any] = {}
    for name in spec.__dataclass_fields__:
        if name in _NOT_HASHED:
            continue
        value = _jsonable(getattr(spec, name))
        if name == "environment":
            value = {k: (_digest(v) if k in spec.sensitive_env else v) for k, v in spec.environment}
        out[name] = value
    return out


def spec_hash(spec: ServiceSpec) -> str:
    """Stable, versioned hash of :func:`canonical_spec`. Pinned by a test: any change to
    the output for an unchanged spec must come with a SPEC_HASH_VERSION bump."""
    canonical = json.dumps(canonical_spec(spec), sort_keys=True, separators=(",", ":"))
    # The digest of a sensitive value is short; hash the full values too so that two
    # secrets differing beyond a digest collision still change the hash.
    secret_part = "".join(
        hashlib.sha256(v.encode()).hexdigest()
        for k, v in spec.environment
        if k in spec.sensitive_env
    )
    digest = hashlib.sha256(f"{SPEC_HASH_VERSION}\0{canonical}\0{secret_part}".encode()).hexdigest()
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
    is :func:`canonical_spec`, so it never holds a secret in clear."""
    labels = {k: v for k, v in spec.labels if not k.startswith(LABEL.PREFIX)}
    labels.update(project_labels(desired, expires=expires))
    labels[LABEL.SERVICE] = spec.name
    labels[LABEL.REPLICA] = str(replica)
    labels[LABEL.SPEC_HASH] = spec_hash(spec)
    labels[LABEL.SPEC] = json.dumps(canonical_spec(spec), sort_keys=True, separators=(",", ":"))
    return labels

"""The desired state of one environment instance: frozen, slotted, hashable values.

Everything here is pure. Short and long spellings of the stack file are normalized (by
``envkit.stackfile.normalize``) into these types, so two spellings of the same thing compare equal
and hash the same.

Identity (``design.md``): project ``{stack}-{env}[-{instance}]``, containers
``{project}-{service}-{n}``, network ``{project}``, volumes ``{project}_{volume}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from envkit.errors import Origin
from envkit.masking import (
    NO_SECRETS,
    SECRET_KEY_FIELD,
    SECRET_TOKEN,
    MissingSecretKey,
    SecretKey,
    Secrets,
)

__all__ = [
    "LABEL",
    "NO_SECRETS",
    "PROTOCOLS",
    "SECRET_KEY_FIELD",
    "SECRET_TOKEN",
    "WILDCARD_ADDRESSES",
    "BuildSpec",
    "Condition",
    "Dependency",
    "DesiredState",
    "EngineSetting",
    "Healthcheck",
    "MissingSecretKey",
    "Mount",
    "MountType",
    "PortSpec",
    "Propagation",
    "PullPolicy",
    "ResourceKind",
    "SecretKey",
    "Secrets",
    "ServiceSpec",
    "VolumeSpec",
    "addresses_overlap",
    "container_name",
    "is_wildcard",
    "pull_policy_text",
]

# A dataclass field with this metadata is left out of the spec hash (and the spec label).
UNHASHED: Mapping[str, bool] = {"hashed": False}


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
    SPEC = "io.envkit.spec"  # canonical spec JSON, secrets replaced by keyed digests
    VERSION = "io.envkit.version"
    EXPIRES = "io.envkit.expires"  # RFC 3339 UTC, throwaway instances only
    VOLUME = "io.envkit.volume"  # stack-level volume name
    # On an anonymous volume envkit made for a container: the path it is mounted at.
    ANONYMOUS = "io.envkit.anonymous"
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
    # Compose's daily, weekly and every_<duration>: pull when the local image was last
    # tagged longer ago than ServiceSpec.pull_refresh_s (compose-go calls it "refresh")
    REFRESH = "refresh"


@dataclass(frozen=True, slots=True)
class PortSpec:
    """One published port. Ranges are expanded into one PortSpec per port, except a host
    range for one container port (``"8000-8010:80"``): ``published`` to
    ``published_last``, of which the engine binds the first free port, as Compose has it."""

    target: int  # container port
    protocol: str = "tcp"  # tcp | udp | sctp
    host_ip: str = ""  # "" = all interfaces
    published: int | None = None  # None = the engine picks a free host port
    published_last: int | None = None  # a host range published..published_last

    @property
    def host_ports(self) -> range:
        """The host ports this may bind: one, a range, or none (engine-chosen)."""
        if self.published is None:
            return range(0)
        return range(self.published, (self.published_last or self.published) + 1)

    @property
    def fixed(self) -> int | None:
        """The one host port this binds, if it is fixed (not engine-chosen, not a range)."""
        return self.published if self.published_last is None else None

    def published_text(self) -> str:
        """``8080``, ``8000-8010`` or ``""`` (engine-chosen), as Compose writes it."""
        if self.published is None:
            return ""
        last = f"-{self.published_last}" if self.published_last is not None else ""
        return f"{self.published}{last}"

    def key(self) -> str:
        """``3306/tcp`` — how Docker names the container side."""
        return f"{self.target}/{self.protocol}"


class Propagation(Enum):
    """A bind mount's mount propagation (Compose's ``bind.propagation``)."""

    PRIVATE = "private"
    RPRIVATE = "rprivate"
    SHARED = "shared"
    RSHARED = "rshared"
    SLAVE = "slave"
    RSLAVE = "rslave"


@dataclass(frozen=True, slots=True)
class Mount:
    """One mount. The fields after ``read_only`` are Compose's long-syntax options (and the
    short syntax's modes); each left at its default is left out of the spec hash, so a
    stack that does not use them keeps its hash."""

    type: MountType
    target: str  # absolute path in the container
    source: str = ""  # volume: stack-level name ("" = anonymous); bind: absolute host path
    read_only: bool = False
    no_copy: bool = False  # volume: do not copy the image's files into a new volume
    subpath: str = ""  # volume: mount this folder of the volume (engine API 1.45+)
    propagation: Propagation | None = None  # bind
    selinux: str = ""  # bind or named volume: "z" (shared) or "Z" (private) relabel
    # bind: the engine creates a missing source folder (Compose's short syntax always; the
    # long one with bind.create_host_path). Not hashed: it decides how a container is made,
    # not what it is, so a stack written before it existed keeps its hash.
    create_host_path: bool = field(default=False, metadata=UNHASHED)
    tmpfs_size: int | None = None  # bytes
    tmpfs_mode: int | None = None  # permission bits, e.g. 0o1777


@dataclass(frozen=True, slots=True)
class Healthcheck:
    test: tuple[str, ...]  # ("CMD", ...), ("CMD-SHELL", "..."), or ("NONE",)
    interval_s: float | None = None
    timeout_s: float | None = None
    start_period_s: float | None = None
    retries: int | None = None
    start_interval_s: float | None = None  # engine API 1.44+ (Docker 25); older ones drop it

    @property
    def disabled(self) -> bool:
        return self.test == ("NONE",)


@dataclass(frozen=True, slots=True)
class Dependency:
    service: str
    condition: Condition = Condition.STARTED
    # Compose's depends_on.restart: recreate this service when the dependency is recreated.
    restart: bool = False


@dataclass(frozen=True, slots=True)
class BuildSpec:
    """Compose's ``build:`` as the engine's classic builder runs it. Fields at their default
    are left out of the spec hash (a stack that does not use them keeps its hash)."""

    context: str  # absolute path
    dockerfile: str = "Dockerfile"
    args: tuple[tuple[str, str], ...] = ()
    target: str | None = None
    context_hash: str = ""  # content hash of the context (honours .dockerignore)
    dockerfile_inline: str | None = None  # the Dockerfile's text (then ``dockerfile`` unused)
    tags: tuple[str, ...] = ()  # more tags of the built image, besides the service's image
    labels: tuple[tuple[str, str], ...] = ()  # labels of the built image, sorted
    network: str | None = None  # the network RUN steps use (host, none, a network name)
    shm_size: int | None = None  # bytes of /dev/shm for RUN steps
    extra_hosts: tuple[tuple[str, str], ...] = ()  # (host, ip) for RUN steps, sorted
    cache_from: tuple[str, ...] = ()  # images whose layers the build may reuse
    no_cache: bool = False  # build every step again
    pull: bool = False  # pull newer FROM images first


@dataclass(frozen=True, slots=True)
class ServiceNetwork:
    """A network a service joins (Compose's service ``networks``)."""

    name: str  # stack-level name; "default" is the instance's own network
    aliases: tuple[str, ...] = ()  # besides the service name, which is always one
    ipv4_address: str | None = None


@dataclass(frozen=True, slots=True)
class ContainerOptions:
    """Compose's container options that go to the engine as they are (all optional)."""

    stop_signal: str | None = None
    stdin_open: bool = False
    tty: bool = False
    read_only: bool = False
    shm_size: int | None = None  # bytes
    pids_limit: int | None = None
    oom_score_adj: int | None = None
    sysctls: tuple[tuple[str, str], ...] = ()  # sorted
    ulimits: tuple[tuple[str, int, int], ...] = ()  # (name, soft, hard), sorted
    security_opt: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    group_add: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()  # HOST[:CONTAINER[:PERMISSIONS]]
    ipc: str | None = None
    pid: str | None = None
    userns_mode: str | None = None
    cgroup_parent: str | None = None
    runtime: str | None = None
    mac_address: str | None = None
    domainname: str | None = None
    log_driver: str | None = None
    log_options: tuple[tuple[str, str], ...] = ()  # sorted
    platform: str | None = None  # os/arch[/variant]: what is pulled and run


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
    pull_refresh_s: float | None = None  # pull_policy refresh: the window, in seconds
    # The networks it joins, the first one first; () means the instance's default network.
    networks: tuple[ServiceNetwork, ...] = ()
    network_mode: str | None = None  # host | none | bridge | container:NAME (no networks)
    links: tuple[tuple[str, str], ...] = ()  # (service, alias), sorted
    expose: tuple[str, ...] = ()  # "PORT/PROTO", sorted: exposed, not published
    container_name: str | None = None  # Compose's fixed name (one replica, no instances)
    # (target, digest of the content) of each secret and config file mounted: a changed
    # file recreates the container, and its value never appears.
    file_digests: tuple[tuple[str, str], ...] = ()
    # Compose's volumes_from: ("service" | "container", name, "ro" | "rw")
    volumes_from: tuple[tuple[str, str, str], ...] = ()
    options: ContainerOptions = ContainerOptions()
    # Names of environment variables whose values are sensitive (masked in output and labels).
    sensitive_env: frozenset[str] = frozenset()
    # ``init_env:``: variables the image reads only when it initialises an empty volume
    # (envkit.reconcile.initenv warns when one changes over an existing volume); None:
    # not said, so every environment change is warned about.
    init_env: frozenset[str] | None = None
    origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    name: str  # stack-level name; the engine name is f"{project}_{name}"
    driver: str = "local"
    driver_opts: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    external: bool = False  # not created or removed by envkit; must exist
    # An external volume's engine name when it differs from ``name`` (Compose's ``name:``).
    external_name: str | None = None
    origin: Origin | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class EngineSetting:
    """An environment's ``engine:`` (``envkit.stackfile.enginesetting`` reads it): an address
    (``unix://``, ``tcp://``, ``ssh://``) or a docker context name, and for ``tcp://`` the TLS
    files (absolute, checked to be regular files when the stack was read)."""

    address: str = ""  # exactly one of address and context
    context: str = ""
    tls_ca: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    where: str = ""  # "environment release at envkit.yaml:12:13", for messages

    @property
    def has_tls(self) -> bool:
        return bool(self.tls_ca or self.tls_cert or self.tls_key)


@dataclass(frozen=True, slots=True)
class NetworkSpec:
    """A network of the stack (Compose's top-level ``networks``); ``default`` is the
    instance's own network, ``{project}``; another is ``{project}_{name}``."""

    name: str
    driver: str = "bridge"
    driver_opts: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    ipam_driver: str | None = None
    # (subnet, ip_range, gateway) per pool; "" when not given
    ipam_config: tuple[tuple[str, str, str], ...] = ()
    external: bool = False  # not created or removed by envkit; must exist
    external_name: str | None = None  # its engine name when it differs from ``name``
    origin: Origin | None = field(default=None, compare=False)


DEFAULT_NETWORK = "default"


@dataclass(frozen=True, slots=True)
class DesiredState:
    stack: str
    environment: str
    instance: str | None
    services: tuple[ServiceSpec, ...]  # in declared order
    volumes: tuple[VolumeSpec, ...] = ()
    source: str = ""  # the stack file, for messages
    networks: tuple[NetworkSpec, ...] = ()  # declared ones; "default" is implied
    # Every sensitive value of this render (env-file values, secret-looking vars). Printers
    # redact them; they never go into labels or output.
    sensitive_values: frozenset[str] = field(default=frozenset(), compare=False, repr=False)
    # The environment's engine: setting; None is the default engine (DOCKER_HOST or the
    # local socket).
    engine: EngineSetting | None = None
    # The key that hashes them in labels; attached by envkit.secretkey before planning.
    secret_key: SecretKey | None = field(default=None, compare=False, repr=False)

    @property
    def secrets(self) -> Secrets:
        return Secrets(self.sensitive_values, self.secret_key)

    @property
    def project(self) -> str:
        base = f"{self.stack}-{self.environment}"
        return f"{base}-{self.instance}" if self.instance else base

    @property
    def network(self) -> str:
        """The engine name of the default network (``{project}``, unless it is external)."""
        return self.network_name(DEFAULT_NETWORK)

    def network_name(self, name: str) -> str:
        """The engine name of the stack's network ``name``."""
        for net in self.networks:
            if net.name == name and net.external:
                return net.external_name or name
        return self.project if name == DEFAULT_NETWORK else f"{self.project}_{name}"

    def network_specs(self) -> tuple[NetworkSpec, ...]:
        """Every network the instance has: the default one first (declared or not), then
        the declared ones that a service joins."""
        declared = {n.name: n for n in self.networks}
        used = {
            n.name
            for s in self.services
            for n in (s.networks or (() if s.network_mode else (ServiceNetwork(DEFAULT_NETWORK),)))
        }
        default = declared.get(DEFAULT_NETWORK, NetworkSpec(DEFAULT_NETWORK))
        others = [n for n in self.networks if n.name != DEFAULT_NETWORK and n.name in used]
        return (default, *others)

    def volume_name(self, name: str) -> str:
        for vol in self.volumes:
            if vol.name == name and vol.external:
                return vol.external_name or name
        return f"{self.project}_{name}"

    def container_of(self, service: str, replica: int) -> str:
        """The container name of a service's replica: ``{project}-{service}-{n}``, or the
        service's ``container_name``."""
        for svc in self.services:
            if svc.name == service and svc.container_name:
                return svc.container_name
        return container_name(self.project, service, replica)

    def service(self, name: str) -> ServiceSpec:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)


def pull_policy_text(spec: ServiceSpec) -> str:
    """The pull policy as Compose spells it: ``always``, ``daily``, ``every_12h``..."""
    if spec.pull_policy is not PullPolicy.REFRESH or spec.pull_refresh_s is None:
        return spec.pull_policy.value
    named = {86400.0: "daily", 7 * 86400.0: "weekly"}
    if spec.pull_refresh_s in named:
        return named[spec.pull_refresh_s]
    ms = round(spec.pull_refresh_s * 1000)
    text = ""
    for unit, factor in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        if ms >= factor:
            text += f"{ms // factor}{unit}"
            ms %= factor
    return f"every_{text or '1ms'}"


def is_oneoff(labels: Mapping[str, str]) -> bool:
    """Whether a container is an ``envkit run`` one-off: never a replica, never planned or
    pruned by ``up``, removed by ``down`` and ``gc`` with the instance."""
    return labels.get(LABEL.ONEOFF) == "true"


def container_name(project: str, service: str, replica: int) -> str:
    return f"{project}-{service}-{replica}"

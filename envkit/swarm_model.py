"""The desired state of a stack on a Docker Swarm: frozen values around the shared model.

A Swarm service is a :class:`~envkit.model.ServiceSpec` (the container part, shared with the
container engines) plus what only Swarm has: ``deploy:`` (mode, replicas, placement, update and
rollback configs, resources, restart policy, endpoint mode, service labels), port publish
modes, networks, secrets and configs. ``envkit.stackfile.swarmkeys`` reads them from a rendered
environment; ``envkit.reconcile.swarm_spec`` turns them into the engine's ServiceSpec.

Pure: no engine, no I/O. A secret's content is held here (it must reach the engine) but only
its digest ever reaches a label, a plan or a message.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from envkit.model import DesiredState, ServiceSpec

if TYPE_CHECKING:
    from envkit.stackfile.enginesetting import ResolveImage

__all__ = [
    "Deploy",
    "DeployMode",
    "EndpointMode",
    "ObjectRef",
    "Placement",
    "Resources",
    "RestartPolicy",
    "SwarmNetwork",
    "SwarmObject",
    "SwarmService",
    "SwarmStack",
    "UpdateConfig",
]


class DeployMode(Enum):
    REPLICATED = "replicated"
    GLOBAL = "global"
    REPLICATED_JOB = "replicated-job"
    GLOBAL_JOB = "global-job"

    @property
    def is_job(self) -> bool:
        return self in (DeployMode.REPLICATED_JOB, DeployMode.GLOBAL_JOB)

    @property
    def has_replicas(self) -> bool:
        return self in (DeployMode.REPLICATED, DeployMode.REPLICATED_JOB)


class EndpointMode(Enum):
    VIP = "vip"
    DNSRR = "dnsrr"


@dataclass(frozen=True, slots=True)
class UpdateConfig:
    parallelism: int | None = None
    delay_s: float | None = None
    failure_action: str | None = None  # continue | pause | rollback
    monitor_s: float | None = None
    max_failure_ratio: float | None = None
    order: str | None = None  # start-first | stop-first


@dataclass(frozen=True, slots=True)
class Placement:
    constraints: tuple[str, ...] = ()  # in declared order (Swarm keeps them so)
    preferences: tuple[str, ...] = ()  # spread descriptors
    max_replicas_per_node: int | None = None


@dataclass(frozen=True, slots=True)
class Resources:
    limit_cpus: float | None = None
    limit_memory: int | None = None  # bytes
    limit_pids: int | None = None
    reserve_cpus: float | None = None
    reserve_memory: int | None = None


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    condition: str | None = None  # none | on-failure | any
    delay_s: float | None = None
    max_attempts: int | None = None
    window_s: float | None = None


@dataclass(frozen=True, slots=True)
class Deploy:
    mode: DeployMode = DeployMode.REPLICATED
    replicas: int | None = None  # None: the service's `replicas` (default 1)
    endpoint_mode: EndpointMode = EndpointMode.VIP
    labels: tuple[tuple[str, str], ...] = ()  # service labels (not the containers'), sorted
    placement: Placement = Placement()
    update_config: UpdateConfig | None = None
    rollback_config: UpdateConfig | None = None
    resources: Resources | None = None
    restart_policy: RestartPolicy | None = None


@dataclass(frozen=True, slots=True)
class ObjectRef:
    """A service's use of a secret or config (Compose's long or short syntax)."""

    source: str  # stack-level name
    target: str = ""  # "" = /run/secrets/<source> or /<source> for a config
    uid: str = "0"
    gid: str = "0"
    mode: int = 0o444


@dataclass(frozen=True, slots=True)
class SwarmService:
    spec: ServiceSpec
    deploy: Deploy = Deploy()
    host_ports: frozenset[str] = frozenset()  # port keys ("8080/tcp") published in host mode
    networks: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (stack network, aliases)
    secrets: tuple[ObjectRef, ...] = ()
    configs: tuple[ObjectRef, ...] = ()

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def replicas(self) -> int:
        return self.deploy.replicas if self.deploy.replicas is not None else self.spec.replicas


@dataclass(frozen=True, slots=True)
class SwarmNetwork:
    name: str  # stack-level; the engine's name is {project}_{name}
    driver: str = "overlay"
    attachable: bool = True
    internal: bool = False
    driver_opts: tuple[tuple[str, str], ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    external: bool = False


@dataclass(frozen=True, slots=True)
class SwarmObject:
    """A secret or config: its content, versioned by digest (the engine's name carries it,
    so a change makes a new object and rolls the services that use it)."""

    name: str  # stack-level
    data: bytes = field(default=b"", repr=False)
    external: bool = False
    sensitive: bool = True

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data).hexdigest()[:12]

    def engine_name(self, project: str) -> str:
        return self.name if self.external else f"{project}_{self.name}-{self.digest}"


@dataclass(frozen=True, slots=True)
class SwarmStack:
    desired: DesiredState
    services: tuple[SwarmService, ...]
    networks: tuple[SwarmNetwork, ...] = ()
    secrets: tuple[SwarmObject, ...] = ()
    configs: tuple[SwarmObject, ...] = ()
    # engine: {swarm:, resolve_image:} (envkit.reconcile.swarm_images)
    resolve_image: ResolveImage = "always"

    @property
    def project(self) -> str:
        return self.desired.project

    def network_name(self, name: str) -> str:
        for net in self.networks:
            if net.name == name and net.external:
                return name
        return f"{self.project}_{name}"

    def service(self, name: str) -> SwarmService:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise KeyError(name)

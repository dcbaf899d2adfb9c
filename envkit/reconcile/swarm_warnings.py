"""What Swarm treats differently from one engine, said at plan time with a hint each.

Pure: a list of warnings from the Swarm stack and the environment's registry setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from envkit.imagename import split_registry
from envkit.model import ContainerOptions, MountType, ServiceSpec
from envkit.swarm_model import SwarmStack

__all__ = ["SwarmWarning", "swarm_warnings"]


@dataclass(frozen=True, slots=True)
class SwarmWarning:
    service: str
    code: str
    message: str
    hint: str

    def render(self) -> str:
        return f"warning[{self.code}]: {self.service}: {self.message}\n  hint: {self.hint}"


def swarm_warnings(stack: SwarmStack, *, registry: str | None = None) -> list[SwarmWarning]:
    out: list[SwarmWarning] = []
    for svc in stack.services:
        spec = svc.spec
        for m in spec.mounts:
            if m.type is MountType.VOLUME and m.source:
                out.append(SwarmWarning(
                    svc.name, "per-node-volume",
                    f"volume {m.source} ({m.target}) is made on each node a task runs on: "
                    "tasks on different nodes see different data",
                    "pin the service to one node (deploy.placement.constraints: "
                    "[node.hostname == NAME]) or use a volume driver shared by the nodes",
                ))  # fmt: skip
            elif m.type is MountType.BIND:
                # Compose's short syntax (and bind.create_host_path) makes a missing folder
                # on one engine; a Swarm task whose node lacks it fails instead.
                made = " (Swarm does not create a missing one)" if m.create_host_path else ""
                out.append(SwarmWarning(
                    svc.name, "per-node-bind",
                    f"bind mount {m.source} must exist on every node a task can run on{made}",
                    "pin the service with a placement constraint, or use a config/secret "
                    "for files",
                ))  # fmt: skip
            if m.selinux:
                out.append(SwarmWarning(
                    svc.name, "ignored-by-swarm",
                    f"the :{m.selinux} relabel of mount {m.target} is not sent: a Swarm "
                    "service's mount has no SELinux option",
                    "label the folder on each node (chcon -Rt container_file_t PATH), or "
                    "keep the service on one engine",
                ))  # fmt: skip
            if m.subpath:
                out.append(SwarmWarning(
                    svc.name, "ignored-by-swarm",
                    f"volume.subpath {m.subpath} of mount {m.target} is not sent to Swarm "
                    "services: the task would mount the whole volume",
                    "mount the whole volume and point the service at the folder, or keep "
                    "the service on one engine",
                ))  # fmt: skip
        if spec.build is not None and not registry:
            out.append(SwarmWarning(
                svc.name, "build-without-registry",
                "build: makes the image on this machine only; Swarm's nodes cannot get it",
                "set `registry: HOST:PORT` on the environment and `envkit bundle push` there, "
                "or `envkit bundle load` the image onto each node's engine",
            ))  # fmt: skip
        elif spec.build is None and split_registry(spec.image)[0] is None and not registry:
            out.append(SwarmWarning(
                svc.name, "image-per-node",
                f"image {spec.image} names no registry: each node pulls it from Docker Hub "
                "or must already have it",
                "in a network without internet, `envkit bundle load` it onto each node, or "
                "set `registry: HOST:PORT` on the environment (pinned by digest there)",
            ))  # fmt: skip
        if spec.depends_on:
            out.append(SwarmWarning(
                svc.name, "depends-on-ordering",
                "Swarm ignores depends_on at runtime (a task may restart before its "
                "dependency); envkit deploys in depends_on order and waits for each service",
                "make the service retry its dependencies when they restart",
            ))  # fmt: skip
        for port in spec.ports:
            if port.host_ip:
                out.append(SwarmWarning(
                    svc.name, "ignored-by-swarm",
                    f"port {port.key()} binds {port.host_ip}: Swarm publishes on every address",
                    "drop the address, or keep the service on one engine; a firewall on the "
                    "nodes limits who reaches the port",
                ))  # fmt: skip
            if port.published_last is not None:
                out.append(SwarmWarning(
                    svc.name, "ignored-by-swarm",
                    f"port {port.key()} has the host range {port.published_text()}: Swarm "
                    f"publishes one port, {port.published}",
                    "publish one host port, or leave it out so Swarm picks one",
                ))  # fmt: skip
        if spec.privileged:
            out.append(SwarmWarning(
                svc.name, "ignored-by-swarm", "privileged: is not supported by Swarm services",
                "use cap_add for the capabilities the service needs",
            ))  # fmt: skip
        out += [
            SwarmWarning(svc.name, "ignored-by-swarm", message, hint)
            for message, hint in _ignored_keys(spec)
        ]
    return out


# ContainerOptions that a Swarm service has no field for (Engine API 1.41), or that envkit's
# Swarm spec (envkit.reconcile.swarm_spec) does not send: either way no task gets them.
_OPTIONS_NOT_SENT = {
    "devices": "a Swarm service cannot map devices",
    "cgroup_parent": "Swarm places tasks in its own cgroup",
    "userns_mode": "a Swarm service has no user-namespace setting",
    "ipc": "a Swarm service has no IPC mode",
    "pid": "a Swarm service has no PID mode",
    "mac_address": "Swarm assigns addresses on its networks",
    "security_opt": "envkit does not send security_opt to Swarm services",
    "sysctls": "envkit does not send sysctls to Swarm services",
    "ulimits": "envkit does not send ulimits to Swarm services",
    "dns": "envkit does not send dns to Swarm services",
    "dns_search": "envkit does not send dns_search to Swarm services",
    "dns_opt": "envkit does not send dns_opt to Swarm services",
    "group_add": "envkit does not send group_add to Swarm services",
    "read_only": "envkit does not send read_only to Swarm services",
    "tty": "envkit does not send tty to Swarm services",
    "stdin_open": "envkit does not send stdin_open to Swarm services",
    "stop_signal": "envkit does not send stop_signal to Swarm services",
    "shm_size": "envkit does not send shm_size to Swarm services",
    "pids_limit": "use deploy.resources.limits.pids on a Swarm",
    "oom_score_adj": "a Swarm service has no OOM score setting",
    "runtime": "a Swarm service runs on each node's default runtime",
    "domainname": "envkit does not send domainname to Swarm services",
    "log_driver": "envkit does not send logging to Swarm services",
    "platform": "Swarm picks the image's platform per node",
}
_NO_OPTIONS = ContainerOptions()
_KEEP_ON_ONE_ENGINE = "remove it for this environment, or keep the service on one engine"


def _ignored_keys(spec: ServiceSpec) -> list[tuple[str, str]]:
    """(message, hint) for each key of ``spec`` that no Swarm task gets."""
    out: list[tuple[str, str]] = []
    if spec.container_name:
        out.append((
            f"container_name: {spec.container_name} is ignored: Swarm names each task's "
            "container itself ({project}_{service}.{slot}.{task id})",
            "reach the service by its name on the stack's networks (tasks resolve it by "
            "DNS), and find its tasks with `envkit ps ENV`",
        ))  # fmt: skip
    if spec.links:
        out.append((
            "links: is ignored: Swarm services find each other by service name on a shared "
            "network",
            "use the service's name (or a network alias under networks:) instead of a link",
        ))  # fmt: skip
    if spec.network_mode:
        out.append((
            f"network_mode: {spec.network_mode} is ignored: Swarm tasks join the stack's "
            "overlay networks",
            "list the networks under networks:, or keep the service on one engine",
        ))  # fmt: skip
    if spec.volumes_from:
        out.append((
            "volumes_from: is ignored: a Swarm task cannot mount another container's volumes",
            "mount the same named volume in both services (and pin them to one node)",
        ))  # fmt: skip
    if spec.tmpfs:
        out.append((
            "tmpfs: is not sent to Swarm services",
            "write the mount as a volume of type tmpfs (volumes: [{type: tmpfs, target: "
            "PATH}])",
        ))  # fmt: skip
    if spec.labels:
        out.append((
            "labels: (container labels) are not sent to Swarm services",
            "labels for the service go under deploy.labels",
        ))  # fmt: skip
    for key, why in _OPTIONS_NOT_SENT.items():
        if getattr(spec.options, key) != getattr(_NO_OPTIONS, key):
            out.append((f"{key}: is ignored: {why}", _KEEP_ON_ONE_ENGINE))
    return out

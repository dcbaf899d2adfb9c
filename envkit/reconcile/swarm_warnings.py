"""What Swarm treats differently from one engine, said at plan time with a hint each.

Pure: a list of warnings from the Swarm stack and the environment's registry setting.
"""

from __future__ import annotations

from dataclasses import dataclass

from envkit.imagename import split_registry
from envkit.model import MountType
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
                out.append(SwarmWarning(
                    svc.name, "per-node-bind",
                    f"bind mount {m.source} must exist on every node a task can run on",
                    "pin the service with a placement constraint, or use a config/secret "
                    "for files",
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
    return out

"""A picture of one environment: services (replicas, image), dependency edges labelled with
their condition, the network, named volumes and published host ports.

Pure functions of the desired state; two notations: Mermaid (renders as is in a README
and on code hosts) and Graphviz DOT. Every label is redacted with the render's sensitive
values, so a secret that reached an image name or a port never lands in a picture.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from envkit.errors import redact
from envkit.model import DesiredState, MountType, PortSpec, ServiceSpec

__all__ = ["FORMATS", "dot", "mermaid"]


@dataclass(frozen=True, slots=True)
class _Edge:
    source: str
    target: str
    label: str
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class _Picture:
    """What both notations draw, as (id, label) nodes and edges."""

    network: tuple[str, str]
    services: tuple[tuple[str, str], ...]
    volumes: tuple[tuple[str, str], ...]
    ports: tuple[tuple[str, str], ...]
    edges: tuple[_Edge, ...]


def _id(prefix: str, name: str) -> str:
    return f"{prefix}_{re.sub(r'[^A-Za-z0-9_]', '_', name)}"


def _host(port: PortSpec) -> str:
    ip = port.host_ip or "0.0.0.0"
    ip = f"[{ip}]" if ":" in ip else ip
    published = port.published_text() or "random"
    return f"{ip}:{published}/{port.protocol}"


def _service_label(svc: ServiceSpec) -> str:
    count = f" ({svc.replicas} replicas)" if svc.replicas != 1 else ""
    image = f"build {svc.build.context}" if svc.build is not None else svc.image
    return f"{svc.name}{count}\n{image}"


def _picture(desired: DesiredState) -> _Picture:
    services = tuple((_id("svc", s.name), _service_label(s)) for s in desired.services)
    volumes: dict[str, tuple[str, str]] = {}
    ports: list[tuple[str, str]] = []
    edges: list[_Edge] = []
    for svc in desired.services:
        sid = _id("svc", svc.name)
        for dep in svc.depends_on:
            edges.append(_Edge(sid, _id("svc", dep.service), dep.condition.value))
        for mount in svc.mounts:
            if mount.type is MountType.VOLUME and mount.source:
                engine_name = desired.volume_name(mount.source)
                vid = _id("vol", mount.source)
                volumes.setdefault(vid, (vid, f"volume {engine_name}"))
                ro = ":ro" if mount.read_only else ""
                edges.append(_Edge(sid, vid, f"{mount.target}{ro}", dashed=True))
        for port in svc.ports:
            pid = _id("port", f"{svc.name}_{len(ports)}")
            ports.append((pid, _host(port)))
            edges.append(_Edge(pid, sid, f"{port.target}/{port.protocol}"))
    return _Picture(
        (_id("net", desired.network), f"network {desired.network}"),
        services,
        tuple(volumes.values()),
        tuple(ports),
        tuple(edges),
    )


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;").replace("\n", "<br/>")


def mermaid(desired: DesiredState) -> str:
    p = _picture(desired)
    secrets = desired.sensitive_values

    def q(text: str) -> str:
        return '"' + _mermaid_text(redact(text, secrets)) + '"'

    def lines() -> Iterator[str]:
        yield "flowchart LR"
        net_id, net_label = p.network
        yield f"  subgraph {net_id}[{q(net_label)}]"
        for sid, label in p.services:
            yield f"    {sid}[{q(label)}]"
        yield "  end"
        for vid, label in p.volumes:
            yield f"  {vid}[({q(label)})]"
        for pid, label in p.ports:
            yield f"  {pid}([{q(label)}])"
        for e in p.edges:
            arrow = "-.->" if e.dashed else "-->"
            yield f"  {e.source} {arrow}|{q(e.label)}| {e.target}"

    return "\n".join(lines()) + "\n"


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def dot(desired: DesiredState) -> str:
    p = _picture(desired)
    secrets = desired.sensitive_values

    def q(text: str) -> str:
        return _dot_text(redact(text, secrets))

    def lines() -> Iterator[str]:
        yield f"digraph {q(desired.project)} {{"
        yield "  rankdir=LR;"
        yield "  node [fontname=Helvetica];"
        net_id, net_label = p.network
        yield f"  subgraph cluster_{net_id} {{"
        yield f"    label={q(net_label)};"
        for sid, label in p.services:
            yield f"    {sid} [shape=box, label={q(label)}];"
        yield "  }"
        for vid, label in p.volumes:
            yield f"  {vid} [shape=cylinder, label={q(label)}];"
        for pid, label in p.ports:
            yield f"  {pid} [shape=oval, label={q(label)}];"
        for e in p.edges:
            style = ", style=dashed" if e.dashed else ""
            yield f"  {e.source} -> {e.target} [label={q(e.label)}{style}];"
        yield "}"

    return "\n".join(lines()) + "\n"


FORMATS = {"mermaid": mermaid, "dot": dot}

"""Compose's networks: the top-level ``networks`` and a service's ``networks``,
``network_mode`` and ``links``, read into ``envkit.model`` (used by ``normalize``).

- A service without ``networks`` (and without ``network_mode``) joins ``default``, the
  instance's own network ``{project}``; one with ``networks`` joins exactly those, the
  first listed first. Its service name is always an alias on each; ``aliases`` add more,
  ``ipv4_address`` fixes its address (the network needs an ``ipam`` subnet).
- ``network_mode``: ``host``, ``none``, ``bridge``, ``container:NAME`` or ``service:NAME``
  (the first container of that service, which it then depends on, as in Compose); it
  excludes ``networks``.
- ``links: [db, "db:database"]``: ``database`` resolves to ``db`` from this service only
  (a container-scoped alias on its first network); the service also depends on ``db``.
- A top-level network: ``driver`` (default bridge), ``driver_opts``, ``internal``,
  ``attachable``, ``enable_ipv6``, ``labels``, ``ipam`` (``driver``, ``config`` pools of
  ``subnet``, ``ip_range``, ``gateway``), or ``external: true`` with an optional
  ``name:`` (its engine name). A fixed ``name:`` on a network envkit creates is refused:
  each environment and instance gets its own ``{project}_{name}``.
"""

from __future__ import annotations

from typing import Any

from envkit.errors import DocPath
from envkit.model import DEFAULT_NETWORK, NetworkSpec, ServiceNetwork
from envkit.stackfile.treereader import TreeReader

__all__ = ["expose", "links", "network", "network_mode", "service_networks", "volumes_from"]

_MODES = ("host", "none", "bridge")


def network(reader: TreeReader, name: str, body: Any) -> NetworkSpec:
    at: DocPath = ("networks", name)
    spec = reader.mapping(body, at)
    external = spec.get("external")
    is_external = (
        bool(external)
        if isinstance(external, dict)
        else bool(reader.boolean(external, (*at, "external")))
    )
    legacy = external.get("name") if isinstance(external, dict) else None
    engine_name = reader.string(spec.get("name"), (*at, "name")) or (
        legacy if isinstance(legacy, str) else None
    )
    if engine_name and not is_external:
        reader.fail(
            "network-name",
            f"network {name} has name: {engine_name!r}, but every environment and instance "
            "gets its own network ({project}_" + name + ")",
            (*at, "name"),
            hint="drop 'name:', or create the network once (docker network create "
            f"{engine_name}) and mark it 'external: true'",
        )
    opts = reader.pairs(spec.get("driver_opts"), (*at, "driver_opts"), sep="=", what="option")
    labels = reader.pairs(spec.get("labels"), (*at, "labels"), sep="=", what="label")
    ipam = reader.mapping(spec.get("ipam"), (*at, "ipam"))
    pools = []
    for index, pool in enumerate(reader.items(ipam.get("config"), (*at, "ipam", "config"))):
        entry = reader.mapping(pool, (*at, "ipam", "config", index))
        pools.append(
            tuple(
                reader.string(entry.get(key), (*at, "ipam", "config", index, key)) or ""
                for key in ("subnet", "ip_range", "gateway")
            )
        )
    return NetworkSpec(
        name=name,
        driver=reader.string(spec.get("driver"), (*at, "driver")) or "bridge",
        driver_opts=tuple(sorted((k, v or "") for k, v in opts.items())),
        labels=tuple(sorted((k, v or "") for k, v in labels.items())),
        internal=bool(reader.boolean(spec.get("internal"), (*at, "internal"))),
        attachable=bool(reader.boolean(spec.get("attachable"), (*at, "attachable"))),
        enable_ipv6=bool(reader.boolean(spec.get("enable_ipv6"), (*at, "enable_ipv6"))),
        ipam_driver=reader.string(ipam.get("driver"), (*at, "ipam", "driver")),
        ipam_config=tuple((s, r, g) for s, r, g in pools),
        external=is_external,
        external_name=engine_name if is_external and engine_name != name else None,
        origin=reader.rendered.key_origin(at) or reader.rendered.origin(at),
    )


def service_networks(
    reader: TreeReader, value: Any, path: DocPath, declared: frozenset[str]
) -> tuple[ServiceNetwork, ...]:
    if value is None:
        return ()
    out: list[ServiceNetwork] = []
    if isinstance(value, list):
        entries: list[tuple[str, Any]] = [(str(v), None) for v in value]
        keys: list[str | int] = list(range(len(value)))
    elif isinstance(value, dict):
        entries = [(str(k), v) for k, v in value.items()]
        keys = [str(k) for k in value]
    else:
        reader.wrong_type("a list or a mapping", value, path)
        return ()
    for (name, body), key in zip(entries, keys, strict=True):
        at = (*path, key)
        if name != DEFAULT_NETWORK and name not in declared:
            reader.fail(
                "unknown-network",
                f"network {name!r} is not declared under the top-level 'networks'",
                at,
                hint=f"add it: 'networks: {{{name}: {{}}}}'",
            )
            continue
        spec = reader.mapping(body, at)
        aliases = reader.strings(spec.get("aliases"), (*at, "aliases"))
        address = reader.string(spec.get("ipv4_address"), (*at, "ipv4_address"))
        out.append(ServiceNetwork(name, aliases, address))
    return tuple(out)


def network_mode(
    reader: TreeReader, value: Any, path: DocPath, services: frozenset[str]
) -> str | None:
    mode = reader.string(value, path)
    if mode is None:
        return None
    kind, sep, target = mode.partition(":")
    if mode in _MODES or (sep and kind == "container" and target):
        return mode
    if sep and kind == "service" and target in services:
        return mode
    reader.fail(
        "invalid-network-mode",
        "{value} is not a network mode" + (" (no such service)" if kind == "service" else ""),
        path,
        value=mode,
        hint="use host, none, bridge, service:NAME (a service of the stack) or container:NAME",
    )
    return None


def links(
    reader: TreeReader, value: Any, path: DocPath, services: frozenset[str]
) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for index, entry in enumerate(reader.strings(value, path)):
        service, _, alias = entry.partition(":")
        if service not in services:
            reader.fail(
                "unknown-service",
                f"link to {service!r}, which is not a service",
                (*path, index),
                hint="link to a service of the stack: SERVICE or SERVICE:ALIAS",
            )
            continue
        out.append((service, alias or service))
    return tuple(sorted(set(out)))


def expose(reader: TreeReader, value: Any, path: DocPath) -> tuple[str, ...]:
    """``expose``: ports the container exposes without publishing them, as ``PORT/PROTO``
    (a range ``3000-3005`` is every port in it); on a user network every port is reachable
    from the other services anyway, so this is what ``docker inspect`` shows, as in Compose."""
    out: set[str] = set()
    for index, entry in enumerate(reader.items(value, path)):
        text = str(entry) if isinstance(entry, int | str) and not isinstance(entry, bool) else ""
        spec, _, proto = text.partition("/")
        low, _, high = spec.partition("-")
        if not (low.isdigit() and (high or low).isdigit()) or proto not in (
            "",
            "tcp",
            "udp",
            "sctp",
        ):
            reader.fail(
                "invalid-port",
                "{value} is not a port to expose",
                (*path, index),
                value=entry,
                hint="write PORT, PORT/udp or a range like 3000-3005",
            )
            continue
        first, last = int(low), int(high or low)
        if not 1 <= first <= last <= 65535:
            reader.fail("invalid-port", "{value} is out of range", (*path, index), value=entry)
            continue
        out.update(f"{port}/{proto or 'tcp'}" for port in range(first, last + 1))
    return tuple(sorted(out, key=lambda e: (int(e.partition("/")[0]), e)))


def volumes_from(
    reader: TreeReader, value: Any, path: DocPath, services: frozenset[str]
) -> tuple[tuple[str, str, str], ...]:
    """``volumes_from: [db, "db:ro", "container:name:rw"]``: the volumes of the service's
    first container (a dependency, as in Compose) or of a named container."""
    out: list[tuple[str, str, str]] = []
    for index, entry in enumerate(reader.strings(value, path)):
        parts = entry.split(":")
        kind = "container" if parts[0] == "container" else "service"
        if kind == "container":
            parts = parts[1:]
        name = parts[0] if parts else ""
        mode = parts[1] if len(parts) > 1 else "rw"
        if (
            len(parts) > 2
            or mode not in ("ro", "rw")
            or not name
            or (kind == "service" and name not in services)
        ):
            reader.fail(
                "invalid-volumes-from",
                "{value} is not SERVICE[:ro|rw] or container:NAME[:ro|rw]"
                + (
                    " (no such service)"
                    if kind == "service" and name and name not in services
                    else ""
                ),
                (*path, index),
                value=entry,
                hint="name a service of the stack, or container:NAME for another container",
            )
            continue
        out.append((kind, name, mode))
    return tuple(out)

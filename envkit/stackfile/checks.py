"""Semantic checks the JSON Schema cannot express.

They take a tree and a :class:`~envkit.stackfile.schema.Locator`, so they run both on the raw
document (:func:`check_document`) and on one environment's merged, rendered tree
(:func:`check_services`). They never raise on a malformed tree: whatever has the wrong
shape is the schema's to report, and is skipped here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from envkit.errors import Diagnostic, DocPath, format_path
from envkit.hints import did_you_mean
from envkit.model import is_wildcard
from envkit.stackfile.syntax import split_port

if TYPE_CHECKING:
    from envkit.stackfile.document import Document
    from envkit.stackfile.schema import Locator

__all__ = ["check_document", "check_services", "host_ports"]

# Compose's service and volume names (compose-spec: ^[a-zA-Z0-9._-]+$, first character a
# letter or digit as the engine wants for container and volume names). Their case is kept,
# as docker-compose does: service Web is container {project}-Web-1, volume Data {project}_Data.
SERVICE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
ENVIRONMENT_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*\Z")

_NAME_HINT = "use {case}letters, digits, '_', '-'{dot}, starting with a letter or digit"


def check_document(doc: Document) -> list[Diagnostic]:
    """Checks on the raw document: names, and overrides of services that do not exist."""
    tree = doc.data
    out: list[Diagnostic] = []
    services = _mapping(tree.get("services"))
    kinds: tuple[tuple[str, re.Pattern[str], str, str], ...] = (
        ("services", SERVICE_NAME, " and '.'", ""),
        ("volumes", SERVICE_NAME, " and '.'", ""),
        ("environments", ENVIRONMENT_NAME, "", "lowercase "),
    )
    for kind, pattern, dot, case in kinds:
        for name in _mapping(tree.get(kind)):
            if not pattern.match(str(name)):
                path = (kind, name)
                out.append(
                    Diagnostic(
                        "invalid-name",
                        f"'{name}' is not a valid {kind[:-1]} name",
                        path,
                        doc.key_origin(path),
                        _NAME_HINT.format(dot=dot, case=case),
                    )
                )
    for env, body in _mapping(tree.get("environments")).items():
        for name in _mapping(_mapping(body).get("services")):
            if name in services:
                continue
            override: DocPath = ("environments", env, "services", name)
            out.append(
                Diagnostic(
                    "unknown-override",
                    f"environment '{env}' overrides '{name}', which is not a service",
                    override,
                    doc.key_origin(override),
                    _did_you_mean(name, services),
                )
            )
    return _sorted(out)


def check_services(tree: Mapping[str, Any], locator: Locator) -> list[Diagnostic]:
    """Checks on one environment's merged tree: images, dependencies, volumes, host ports."""
    services = _mapping(tree.get("services"))
    declared = _mapping(tree.get("volumes"))
    out: list[Diagnostic] = []
    published: dict[tuple[int, str], list[tuple[str, DocPath]]] = {}
    for name, body in services.items():
        service = _mapping(body)
        base: DocPath = ("services", name)
        if isinstance(body, Mapping) and "image" not in service and "build" not in service:
            out.append(
                Diagnostic(
                    "missing-image",
                    f"service '{name}' has neither 'image' nor 'build'",
                    base,
                    locator.key_origin(base),
                    "add 'image: NAME:TAG', or 'build: ./folder' to build one",
                )
            )
        for dep, path in _dependencies(service, base):
            if dep not in services:
                out.append(
                    Diagnostic(
                        "unknown-service",
                        f"'{name}' depends on '{dep}', which is not a service",
                        path,
                        locator.key_origin(path),
                        _did_you_mean(dep, services),
                    )
                )
        out.extend(_volume_checks(service, base, declared, locator))
        for index, entry in enumerate(_list(service.get("ports"))):
            for ip, port, proto in host_ports(entry):
                path = (*base, "ports", index)
                for other_ip, other_path in published.get((port, proto), []):
                    if ip == other_ip or "" in (ip, other_ip):
                        first = locator.origin(other_path)
                        where = f" (line {first.line})" if first else ""
                        out.append(
                            Diagnostic(
                                "duplicate-port",
                                f"host port {port}/{proto} is already published by "
                                f"{format_path(other_path)}{where}",
                                path,
                                locator.origin(path),
                                "give one of them another host port, or publish only "
                                "the container port to let Docker pick one",
                            )
                        )
                        break
                else:
                    published.setdefault((port, proto), []).append((ip, path))
    out.extend(_cycles(services, locator))
    return _sorted(out)


def host_ports(entry: Any) -> list[tuple[str, int, str]]:
    """The fixed host ports a ``ports`` entry publishes, as ``(host_ip, port, protocol)``.

    ``host_ip`` is ``""`` for all interfaces. Entries without a fixed host port (``80``,
    ``"127.0.0.1::80"``, a host range for one container port, of which the engine binds any
    free one), templated or malformed ones give ``[]``.
    """
    if isinstance(entry, Mapping):
        ip = entry.get("host_ip") or ""
        proto = entry.get("protocol") or "tcp"
        published = entry.get("published")
        if isinstance(published, bool) or not isinstance(ip, str) or not isinstance(proto, str):
            return []
        if _range_to_one(str(published), str(entry.get("target"))):
            return []
        return _expand(published, _all(ip), proto)
    if not isinstance(entry, str) or "{{" in entry or "$" in entry:
        return []
    spec, _, proto = entry.partition("/")
    split = split_port(spec)
    if split is None:
        return []
    ip, published, target = split
    if _range_to_one(published, target):
        return []
    return _expand(published, _all(ip), proto or "tcp")


def _range_to_one(published: str, target: str) -> bool:
    return "-" in published and "-" not in target


def _all(ip: str) -> str:
    return "" if is_wildcard(ip) else ip


def _expand(published: Any, ip: str, proto: str) -> list[tuple[str, int, str]]:
    if isinstance(published, int) and not isinstance(published, bool):
        return [(ip, published, proto)] if published > 0 else []
    if not isinstance(published, str):
        return []
    low, _, high = published.partition("-")
    if not low.isdigit() or not (high or low).isdigit():
        return []
    first, last = int(low), int(high or low)
    if first <= 0 or last < first or last - first > 65535:
        return []
    return [(ip, port, proto) for port in range(first, last + 1)]


def _dependencies(service: Mapping[str, Any], base: DocPath) -> Iterable[tuple[str, DocPath]]:
    deps = service.get("depends_on")
    if isinstance(deps, list):
        for index, dep in enumerate(deps):
            if isinstance(dep, str):
                yield dep, (*base, "depends_on", index)
    elif isinstance(deps, Mapping):
        for dep, body in deps.items():
            # required: false (Compose): a dependency that may be missing is no error.
            optional = isinstance(body, Mapping) and body.get("required") is False
            if isinstance(dep, str) and not optional:
                yield dep, (*base, "depends_on", dep)


def _volume_checks(
    service: Mapping[str, Any], base: DocPath, declared: Mapping[str, Any], locator: Locator
) -> Iterable[Diagnostic]:
    for index, entry in enumerate(_list(service.get("volumes"))):
        name = _named_volume(entry)
        if name is None or name in declared:
            continue
        path = (*base, "volumes", index)
        yield Diagnostic(
            "undeclared-volume",
            f"the named volume '{name}' is not declared under the top-level 'volumes'",
            path,
            locator.origin(path),
            f"add it: 'volumes: {{{name}: {{}}}}' (or write ./{name} for a folder next to "
            "the stack file)",
        )


def _named_volume(entry: Any) -> str | None:
    if isinstance(entry, Mapping):
        source = entry.get("source")
        if entry.get("type") == "volume" and isinstance(source, str) and source:
            return source
        return None
    if not isinstance(entry, str) or "{{" in entry or "$" in entry or ":" not in entry:
        return None
    source = entry.split(":", 1)[0]
    if not source or source.startswith((".", "/", "~", "$")):
        return None
    return source


def _cycles(services: Mapping[str, Any], locator: Locator) -> Iterable[Diagnostic]:
    graph = {
        name: [dep for dep, _ in _dependencies(_mapping(body), ()) if dep in services]
        for name, body in services.items()
    }
    seen: set[tuple[str, ...]] = set()
    done: set[str] = set()
    for start in graph:
        if start in done:
            continue
        trail: list[str] = [start]
        stack: list[Iterator[str]] = [iter(graph[start])]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                done.add(trail.pop())
                stack.pop()
                continue
            if nxt in trail:
                cycle = trail[trail.index(nxt) :]
                low = cycle.index(min(cycle))
                key = tuple(cycle[low:] + cycle[:low])
                if key not in seen:
                    seen.add(key)
                    yield _cycle_diagnostic(key, locator)
            elif nxt not in done:
                trail.append(nxt)
                stack.append(iter(graph[nxt]))


def _cycle_diagnostic(cycle: tuple[str, ...], locator: Locator) -> Diagnostic:
    path: DocPath = ("services", cycle[0], "depends_on")
    shown = " -> ".join((*cycle, cycle[0]))
    return Diagnostic(
        "dependency-cycle",
        f"dependency cycle: {shown}",
        path,
        locator.key_origin(path),
        "remove one of these depends_on entries; services must start in some order",
    )


def _did_you_mean(name: Any, known: Mapping[str, Any]) -> str:
    close = did_you_mean(name, known)
    if close:
        return close
    if known:
        return f"the services are: {', '.join(sorted(str(k) for k in known))}"
    return "there are no services"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    def order(diag: Diagnostic) -> tuple[int, int, str]:
        at = diag.origin
        return (at.line, at.col, str(diag.path)) if at else (0, 0, str(diag.path))

    return sorted(diagnostics, key=order)

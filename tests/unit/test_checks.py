"""checks: what the schema cannot say (exact messages)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from envkit.stackfile.checks import check_document, check_services, host_ports
from envkit.stackfile.document import Document, parse


def doc_of(text: str) -> Document:
    return parse(text, path=Path("/stacks/stack.yaml"), display="stack.yaml")


def document_errors(text: str) -> str:
    return "\n".join(d.render() for d in check_document(doc_of(text)))


def service_errors(text: str) -> str:
    doc = doc_of(text)
    return "\n".join(d.render() for d in check_services(doc.data, doc))


DOCUMENT_CASES = [
    (
        "unknown-override",
        "stack: s\nenvironments:\n  release:\n    services:\n      dbb: {restart: always}\n"
        "services:\n  db: {image: x}\n",
        "stack.yaml:5:7: error[unknown-override]: environments.release.services.dbb: environment"
        " 'release' overrides 'dbb', which is not a service\n"
        "  hint: did you mean 'db'?",
    ),
    (
        "unknown-override-no-match",
        "stack: s\nenvironments:\n  dev: {services: {zzz: {}}}\nservices:\n  db: {image: x}\n",
        "stack.yaml:3:20: error[unknown-override]: environments.dev.services.zzz: environment"
        " 'dev' overrides 'zzz', which is not a service\n"
        "  hint: the services are: db",
    ),
    (
        "service-name",
        "stack: s\nservices:\n  _DB: {image: x}\n",
        "stack.yaml:3:3: error[invalid-name]: services._DB: '_DB' is not a valid service"
        " name\n"
        "  hint: use letters, digits, '_', '-' and '.', starting with a letter or digit",
    ),
    (
        "volume-name",
        "stack: s\nvolumes:\n  -data: {}\n",
        "stack.yaml:3:3: error[invalid-name]: volumes.-data: '-data' is not a valid volume name\n"
        "  hint: use letters, digits, '_', '-' and '.', starting with a letter or digit",
    ),
    (
        "environment-name-no-dots",
        "stack: s\nenvironments:\n  v1.2: {}\n",
        "stack.yaml:3:3: error[invalid-name]: environments.v1.2: 'v1.2' is not a valid"
        " environment name\n"
        "  hint: use lowercase letters, digits, '_', '-', starting with a letter or digit",
    ),
    # Compose keeps the case of service and volume names (docker-compose: ck_Web_1, ck_Data)
    ("uppercase", "stack: s\nservices:\n  My_DB: {image: x}\nvolumes:\n  Data: {}\n", ""),
    ("valid", "stack: s\nenvironments: {dev: {services: {db: {}}}}\nservices: {db: {}}\n", ""),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in DOCUMENT_CASES], ids=[c[0] for c in DOCUMENT_CASES]
)
def test_document_checks(text: str, expected: str) -> None:
    assert document_errors(text) == expected


SERVICE_CASES = [
    (
        "unknown-dependency-list",
        "services:\n  db: {image: x}\n  web: {image: x, depends_on: [dbb]}\n",
        "stack.yaml:3:32: error[unknown-service]: services.web.depends_on[0]: 'web' depends on"
        " 'dbb', which is not a service\n"
        "  hint: did you mean 'db'?",
    ),
    (
        "unknown-dependency-map",
        "services:\n  web:\n    image: x\n    depends_on:\n      cache: {condition: service_healthy}\n",
        "stack.yaml:5:7: error[unknown-service]: services.web.depends_on.cache: 'web' depends on"
        " 'cache', which is not a service\n"
        "  hint: the services are: web",
    ),
    (
        "cycle",
        "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [c]}\n"
        "  c: {image: x, depends_on: {a: {condition: service_started}}}\n",
        "stack.yaml:2:17: error[dependency-cycle]: services.a.depends_on: dependency cycle:"
        " a -> b -> c -> a\n"
        "  hint: remove one of these depends_on entries; services must start in some order",
    ),
    (
        "self-dependency",
        "services:\n  a: {image: x, depends_on: [a]}\n",
        "stack.yaml:2:17: error[dependency-cycle]: services.a.depends_on: dependency cycle:"
        " a -> a\n"
        "  hint: remove one of these depends_on entries; services must start in some order",
    ),
    (
        "undeclared-short",
        "services:\n  db: {image: x, volumes: ['data:/var/lib/mysql', './d:/d', '/x:/x', '/anon']}\n",
        "stack.yaml:2:28: error[undeclared-volume]: services.db.volumes[0]: the named volume"
        " 'data' is not declared under the top-level 'volumes'\n"
        "  hint: add it: 'volumes: {data: {}}' (or write ./data for a folder next to the stack"
        " file)",
    ),
    (
        "undeclared-long",
        "services:\n  db:\n    image: x\n    volumes:\n"
        "      - {type: volume, source: logs, target: /logs}\n"
        "      - {type: bind, source: logs, target: /b}\n"
        "volumes: {data: {}}\n",
        "stack.yaml:5:9: error[undeclared-volume]: services.db.volumes[0]: the named volume"
        " 'logs' is not declared under the top-level 'volumes'\n"
        "  hint: add it: 'volumes: {logs: {}}' (or write ./logs for a folder next to the stack"
        " file)",
    ),
    (
        "duplicate-port-across-services",
        "services:\n  a: {image: x, ports: ['8080:80']}\n"
        "  b: {image: x, ports: [{target: 81, published: 8080}]}\n",
        "stack.yaml:3:25: error[duplicate-port]: services.b.ports[0]: host port 8080/tcp is"
        " already published by services.a.ports[0] (line 2)\n"
        "  hint: give one of them another host port, or publish only the container port to let"
        " Docker pick one",
    ),
    (
        "duplicate-port-in-a-range",
        "services:\n  a: {image: x, ports: ['9000-9002:9000-9002', '127.0.0.1:9001:1']}\n",
        "stack.yaml:2:48: error[duplicate-port]: services.a.ports[1]: host port 9001/tcp is"
        " already published by services.a.ports[0] (line 2)\n"
        "  hint: give one of them another host port, or publish only the container port to let"
        " Docker pick one",
    ),
    (
        "same-port-other-protocol-or-ip-is-fine",
        "services:\n  a: {image: x, ports: ['53:53/udp', '53:53', '127.0.0.1:80:80',"
        " '127.0.0.2:80:80', 80, 80]}\n",
        "",
    ),
    (
        "missing-image",
        "services:\n  db: {ports: ['80']}\n",
        "stack.yaml:2:3: error[missing-image]: services.db: service 'db' has neither 'image' nor"
        " 'build'\n"
        "  hint: add 'image: NAME:TAG', or 'build: ./folder' to build one",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in SERVICE_CASES], ids=[c[0] for c in SERVICE_CASES]
)
def test_service_checks(text: str, expected: str) -> None:
    assert service_errors(text) == expected


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (80, []),
        ("80", []),
        ("8080:80", [("", 8080, "tcp")]),
        ("0.0.0.0:8080:80", [("", 8080, "tcp")]),
        ("127.0.0.1:8080:80/udp", [("127.0.0.1", 8080, "udp")]),
        ("127.0.0.1::80", []),
        ("[::1]:53:53/udp", [("::1", 53, "udp")]),
        ("9000-9002:9000-9002", [("", 9000, "tcp"), ("", 9001, "tcp"), ("", 9002, "tcp")]),
        ({"target": 80, "published": 8080, "protocol": "udp"}, [("", 8080, "udp")]),
        ({"target": "80-81", "published": "8080-8081"}, [("", 8080, "tcp"), ("", 8081, "tcp")]),
        # a host range for one container port: the engine binds any free one, none is fixed
        ({"target": 80, "published": "8080-8081"}, []),
        ("8000-8010:80", []),
        # an unbracketed IPv6 address, split as Compose splits it
        ("::1:6000:6000", [("::1", 6000, "tcp")]),
        ("fe80::1:53:53/udp", [("fe80::1", 53, "udp")]),
        ("::1::80", []),
        ({"target": 80}, []),
        ("{{ port }}:80", []),
        ("garbage:::", []),
        (None, []),
    ],
)
def test_host_ports(entry: Any, expected: list[tuple[str, int, str]]) -> None:
    assert host_ports(entry) == expected


@pytest.mark.parametrize(
    "tree",
    [
        {},
        {"services": [1, 2]},
        {"services": {"a": None, "b": [1], "c": {"depends_on": "x", "ports": {"a": 1}}}},
        {"services": {"a": {"volumes": [None, 3, {"type": "volume"}], "depends_on": [1, None]}}},
        {"environments": {"dev": None, "x": {"services": [1]}}, "volumes": "x"},
    ],
)
def test_checks_skip_malformed_shapes(tree: dict[str, Any]) -> None:
    doc = doc_of("stack: s\n")
    check_services(tree, doc)
    check_document(Document(doc.path, doc.display, tree))

"""The SDK-free list calls on a unix socket read what the docker SDK reads.

A small HTTP server on a unix socket replays list answers recorded from a real engine
(tests/unit/data/engine_lists.json); ``observe`` and the label-filtered lists through the
raw GETs and through the SDK must ask the same questions and parse the same values. The
live comparison is in tests/engine/test_raw_observe.py.
"""

from __future__ import annotations

import json
import re
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import pytest

from envkit.engine.docker import DockerEngine
from envkit.engine.unix_http import EngineHttpError, UnixHttpClient
from envkit.errors import EngineError, EngineUnavailable
from envkit.model import LABEL, DesiredState, PortSpec, ServiceSpec

RECORDED = json.loads((Path(__file__).parent / "data" / "engine_lists.json").read_text())
_VERSION = re.compile(r"^/v[0-9.]+(/.*)$")


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    requests_seen: list[tuple[str, tuple[tuple[str, str], ...]]]
    answers: dict[str, Any]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        match = _VERSION.match(parts.path)
        path = match.group(1) if match else parts.path
        query = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))
        if path not in ("/version", "/_ping"):
            self.server.requests_seen.append((path, query))
        if path in self.server.answers:
            status, body = 200, json.dumps(self.server.answers[path]).encode()
        else:
            status, body = 404, json.dumps({"message": f"page not found: {path}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[_Server]:
    srv = _Server(str(tmp_path / "docker.sock"), _Handler)
    srv.requests_seen = []
    srv.answers = dict(RECORDED)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _engines(srv: _Server) -> tuple[DockerEngine, DockerEngine]:
    """(raw GETs, the SDK) on the same socket."""
    url = f"unix://{srv.server_address}"
    raw, sdk = DockerEngine(url), DockerEngine(url)
    sdk._api()  # the SDK loaded: every list goes through it
    assert raw._lists.reader() is not None and sdk._lists.reader() is None
    return raw, sdk


def _desired() -> DesiredState:
    """The recorded project (perfb-b), one service the engine has and one it lacks."""
    return DesiredState(
        stack="perfb",
        environment="b",
        instance=None,
        services=(
            ServiceSpec(
                name="svc0",
                image="envkit-test/busybox:latest",
                ports=(PortSpec(target=80, published=None, host_ip="127.0.0.1"),),
            ),
            ServiceSpec(name="svc1", image="envkit-test/missing:1"),
        ),
    )


def test_observe_reads_the_same_state_as_the_sdk(server: _Server) -> None:
    raw, sdk = _engines(server)
    server.requests_seen.clear()
    by_raw = raw.observe(_desired())
    raw_requests = list(server.requests_seen)
    server.requests_seen.clear()
    by_sdk = sdk.observe(_desired())
    assert by_raw == by_sdk
    assert len(by_raw.containers) == 3 and by_raw.networks
    assert by_raw.images["envkit-test/missing:1"] is None
    assert by_raw.images["envkit-test/busybox:latest"]
    # The same four questions, with the same parameters (the SDK adds no others).
    assert [p for p, _ in raw_requests] == [
        "/containers/json",
        "/networks",
        "/volumes",
        "/images/json",
    ]
    assert raw_requests == server.requests_seen


def test_label_filtered_lists_ask_what_the_sdk_asks(server: _Server) -> None:
    raw, sdk = _engines(server)
    labels: dict[str, str | None] = {LABEL.PROJECT: "perfb-b", LABEL.STACK: None}
    asked = []
    for eng in (raw, sdk):
        server.requests_seen.clear()
        got = (eng.list_containers(labels), eng.list_networks(labels), eng.list_volumes(labels))
        asked.append(list(server.requests_seen))
        assert got[0] and got[1]
    assert asked[0] == asked[1]
    assert dict(asked[0][0][1])["filters"] == json.dumps(
        {"label": [f"{LABEL.PROJECT}=perfb-b", LABEL.STACK]}
    )


def test_error_status_becomes_an_engine_error(server: _Server) -> None:
    raw, sdk = _engines(server)
    del server.answers["/networks"]
    for eng in (raw, sdk):
        with pytest.raises(EngineError) as caught:
            eng.observe(_desired())
        assert caught.value.code == "engine-not-found"
        assert "page not found: /networks" in caught.value.message
        assert "list networks" in caught.value.message


def test_kept_alive_connection_closed_by_the_engine_is_reopened(server: _Server) -> None:
    client = UnixHttpClient(str(server.server_address))
    assert client.get_json("/networks")
    assert client._conn is not None and client._conn.sock is not None
    client._conn.sock.close()  # as if the engine had dropped the idle connection
    client._conn.sock = None
    assert client.get_json("/networks")
    with pytest.raises(EngineHttpError) as caught:
        client.get_json("/nothing")
    assert caught.value.response.status_code == 404
    client.close()


def test_pinned_api_version_is_in_the_path(server: _Server) -> None:
    seen: list[str] = []
    original = _Handler.do_GET

    def recording(self: _Handler) -> None:
        seen.append(self.path)
        original(self)

    _Handler.do_GET = recording  # type: ignore[method-assign]
    try:
        UnixHttpClient(str(server.server_address), version="1.41").get_json("/volumes")
    finally:
        _Handler.do_GET = original  # type: ignore[method-assign]
    assert seen == ["/v1.41/volumes"]


def test_no_engine_on_the_socket_says_so(tmp_path: Path) -> None:
    eng = DockerEngine(f"unix://{tmp_path / 'none.sock'}")
    with pytest.raises(EngineUnavailable) as caught:
        eng.observe(_desired())
    assert "no Docker engine answers" in caught.value.message


def test_observe_on_a_unix_socket_does_not_import_the_sdk(server: _Server) -> None:
    """The lever of a fast no-op up: a read-only observe never loads docker/requests."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from envkit.engine.docker import DockerEngine\n"
        "from tests.unit.test_unix_http import _desired\n"
        "state = DockerEngine(sys.argv[1]).observe(_desired())\n"
        "assert len(state.containers) == 3\n"
        "print(sorted(m for m in ('docker', 'requests', 'urllib3') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code, f"unix://{server.server_address}"],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


class _WriteHandler(BaseHTTPRequestHandler):
    """POST answers 201 with what it was sent; DELETE answers 204 with no body."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[tuple[str, str, str, bytes]]] = []

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(("POST", self.path, self.headers["Content-Type"], data))
        self._answer(201, json.dumps({"ID": "x1", "got": json.loads(data)}).encode())

    def do_DELETE(self) -> None:
        self.seen.append(("DELETE", self.path, "", b""))
        self._answer(204, b"")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_request_json_posts_json_and_reads_an_empty_answer_as_none(tmp_path: Path) -> None:
    srv = _Server(str(tmp_path / "w.sock"), _WriteHandler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _WriteHandler.seen = []
    client = UnixHttpClient(str(tmp_path / "w.sock"))
    try:
        answer = client.request_json("POST", "/services/s1/update", {"version": "7"}, {"A": [1]})
        assert answer == {"ID": "x1", "got": {"A": [1]}}
        assert client.request_json("DELETE", "/services/s1") is None
    finally:
        client.close()
        srv.shutdown()
        srv.server_close()
    assert _WriteHandler.seen == [
        ("POST", "/services/s1/update?version=7", "application/json", b'{"A": [1]}'),
        ("DELETE", "/services/s1", "", b""),
    ]

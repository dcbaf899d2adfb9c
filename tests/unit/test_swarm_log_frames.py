"""Reading a Swarm manager's log streams (envkit.engine.swarm): the multiplexed frames with
the engine's own stream 3, the manager's "node ... is not available" kept out of the log
lines, the per-task reads around a node that is down, and the failure detail that asks
again and then says why it has no lines."""

from __future__ import annotations

import time
from typing import Any

import pytest

from envkit.engine.swarm import (
    SwarmEngine,
    _clean_stream_message,
    demux_log_frames,
    read_log_frames,
)
from envkit.engine.swarm_base import ObservedService, ObservedTask
from envkit.reconcile.swarm_apply import _update_failed
from envkit.reconcile.swarm_status import incomplete_logs, log_sources

NODE = "4ig8xoychz2mx6msa2l7i0cr8"
ENGINE_SAID = (
    "Error grabbing logs: rpc error: code = Unknown desc = warning: incomplete log stream. "
    f"some logs could not be retrieved for the following reasons: node {NODE} is not available\n"
)


def frame(stream: int, data: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(data).to_bytes(4, "big") + data


def reader(raw: bytes, step: int) -> Any:
    """``read(n)`` over ``raw`` that never gives more than ``step`` bytes at once."""
    pos = 0

    def read(n: int) -> bytes:
        nonlocal pos
        chunk = raw[pos : pos + min(n, step)]
        pos += len(chunk)
        return chunk

    return read


# What the CI run of stop 15 got back: the manager's word first, then a task's lines.
CI_ANSWER = frame(3, ENGINE_SAID.encode()) + frame(1, b"hello web\n") + frame(2, b"to stderr\n")


def test_the_engines_own_stream_is_kept_out_of_the_lines() -> None:
    # Before: the answer began with stream 3, so it was taken for plain text and the
    # frame headers and the error came out as log lines ("\x03\x00\x00...Error grabbing").
    lines, said = demux_log_frames(CI_ANSWER)
    assert lines == ["hello web", "to stderr"]
    assert said == [ENGINE_SAID.strip()]


@pytest.mark.parametrize("step", [1, 3, 8, 1000])
def test_frames_are_read_whole_whatever_size_the_reads_come_in(step: int) -> None:
    frames = list(read_log_frames(reader(CI_ANSWER, step)))
    assert frames == [(3, ENGINE_SAID.encode()), (1, b"hello web\n"), (2, b"to stderr\n")]


def test_a_tty_stream_has_no_frames_and_is_read_as_it_is() -> None:
    text = b"plain output\nfrom a tty\n"
    assert b"".join(d for _, d in read_log_frames(reader(text, 5))) == text
    assert demux_log_frames(text) == (["plain output", "from a tty"], [])


def test_a_followed_tty_stream_comes_out_as_it_arrives() -> None:
    """A TTY service's raw stream, followed: what has arrived is yielded at once, even a
    line shorter than a frame header, not when the stream ends (it never does while
    following)."""

    class Stream:
        def __init__(self) -> None:
            self.arrived = b""

        def read(self, n: int) -> bytes:  # blocks until n bytes: here, refuses to wait
            assert len(self.arrived) >= n, "read would block on bytes that have not come"
            out, self.arrived = self.arrived[:n], self.arrived[n:]
            return out

        def read_some(self, n: int) -> bytes:
            assert self.arrived, "read_some would block: nothing has come"
            return self.read(min(n, len(self.arrived)))

    stream = Stream()
    frames = read_log_frames(stream.read, stream.read_some)
    stream.arrived = b"hi\n"
    assert b"".join([next(frames)[1], next(frames)[1]]) == b"hi\n"
    stream.arrived = b"second line\n"
    assert next(frames) == (1, b"second line\n")


def test_a_truncated_frame_ends_the_stream_with_what_came() -> None:
    raw = frame(1, b"whole\n") + frame(1, b"cut short")[:-4]
    assert list(read_log_frames(reader(raw, 4))) == [(1, b"whole\n"), (1, b"cut s")]


def test_the_managers_message_loses_its_grpc_wrapping() -> None:
    assert _clean_stream_message(ENGINE_SAID) == (
        f"incomplete log stream: node {NODE} is not available"
    )
    assert _clean_stream_message("something else\n") == "something else"


class _Api:
    """The SDK calls task_logs makes, answering from a script (the last answer repeats)."""

    def __init__(self, answers: list[bytes]) -> None:
        self.answers = answers
        self.calls = 0

    def _url(self, path: str, *args: str) -> str:
        return path.format(*args)

    def _get(self, url: str, **kwargs: Any) -> Any:
        self.calls += 1
        answer = self.answers[min(self.calls - 1, len(self.answers) - 1)]
        return type("Response", (), {"content": answer})()

    def _raise_for_status(self, res: Any) -> None:
        pass


def _engine(api: _Api) -> SwarmEngine:
    engine = SwarmEngine.__new__(SwarmEngine)
    engine._api = api
    engine._errors = (OSError,)
    engine._raw = None
    nodes = [{"ID": NODE, "Description": {"Hostname": "envkit-n3"}}]
    engine._list = lambda path, filters=None: nodes if path == "/nodes" else []  # type: ignore[method-assign]
    return engine


def test_the_failure_detail_asks_again_while_the_manager_cannot_read_a_node(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "sleep", lambda s: None)
    api = _Api([frame(3, ENGINE_SAID.encode()), frame(1, b"died: no config\n")])
    assert _engine(api).task_logs("t1", 5) == ["died: no config"]
    assert api.calls == 2


def test_the_failure_detail_says_why_it_has_no_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda s: None)
    api = _Api([frame(3, ENGINE_SAID.encode())])
    assert _engine(api).task_logs("t1", 5) == [
        "(the manager could not read these logs: incomplete log stream: "
        f"node {NODE} (envkit-n3) is not available)"
    ]
    assert api.calls == 3


def _task(tid: str, node: str, *, ready: bool = True, state: str = "running") -> ObservedTask:
    return ObservedTask(tid, "s", node, state, "running", 4, node_ready=ready, slot=1)


def test_a_service_with_every_node_up_is_read_in_one_request() -> None:
    web = ObservedService("s1", "p_web", "web", 4, tasks=(_task("a", "n1"), _task("b", "")))
    sources, unread = log_sources([web])
    assert [(x.kind, x.id) for x in sources] == [("service", "s1")] and unread == []


def test_a_service_with_a_task_on_a_node_that_is_down_is_read_task_by_task() -> None:
    # The manager's service log would wait for the lost node until the socket times out.
    lost = _task("c", "n3", ready=False)
    web = ObservedService(
        "s1", "p_web", "web", 4, tasks=(_task("a", "n1"), _task("b", "n2"), lost, _task("d", ""))
    )
    db = ObservedService("s2", "p_db", "db", 4, tasks=(_task("e", "n1"),))
    sources, unread = log_sources([web, db])
    assert [(x.kind, x.id) for x in sources] == [("task", "a"), ("task", "b"), ("service", "s2")]
    assert unread == [lost]
    err = incomplete_logs(["incomplete log stream: node x (n2) is not available"], ["web.3@n3"])
    assert err.code == "logs-incomplete"
    assert err.message == (
        "the Swarm manager could not read every log: web.3@n3 is on a node that is down; "
        "incomplete log stream: node x (n2) is not available"
    )


def test_a_failed_task_on_a_node_that_is_down_is_reported_without_asking_for_its_logs() -> None:
    class Engine:
        def task_logs(self, task_id: str, lines: int) -> list[str]:
            raise AssertionError("the read would wait for the lost node until it times out")

    failed = ObservedTask("t1", "s", "n3", "failed", "shutdown", 4, error="exit 3",
                          node_ready=False)  # fmt: skip
    err = _update_failed(Engine(), "web", ObservedService("s", "p_web", "web", 4, tasks=(failed,)))  # type: ignore[arg-type]
    assert "(logs not read: n3 is down)" in (err.detail or "")

"""``envkit events`` on the real engine: only the instance's objects, filtered by
service, as text or JSON lines."""

from __future__ import annotations

import json

from .conftest import StackFile, busybox


def test_events_of_the_instance_only(stack: StackFile) -> None:
    stack.write("environments: {e: {}, f: {}}\nservices:\n" + busybox("db") + busybox("web"))
    assert stack.cli("up", "e").code == 0
    assert stack.cli("up", "f").code == 0  # another instance: not in e's events
    assert stack.cli("stop", "e", "web").code == 0
    p = stack.project("e")
    done = stack.cli("events", "e", "--since", "2m", "--until", "0s", "--json")
    assert done.code == 0, done.text
    seen = [json.loads(line) for line in done.out.splitlines()]
    assert {"type": "container", "action": "stop", "name": f"{p}-web-1", "service": "web"} in [
        {k: e[k] for k in ("type", "action", "name", "service")} for e in seen
    ]
    assert {e["name"] for e in seen if e["type"] == "container"} == {f"{p}-db-1", f"{p}-web-1"}
    # (Docker 20.10 puts no labels on network/volume events, so the label filter that
    # keeps other instances out selects container events only there.)
    only = stack.cli("events", "e", "db", "--since", "2m", "--until", "0s")
    assert (
        only.code == 0
        and only.out
        and all(f"{p}-db-1 (db)" in line for line in only.out.splitlines())
    )

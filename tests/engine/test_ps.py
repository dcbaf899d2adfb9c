"""ps: columns, natural order, one exit-code rule, and ps ENV --json = up --json."""

from __future__ import annotations

import json

import pytest

from .conftest import IMAGE, StackFile

pytestmark = pytest.mark.engine


def _stack(stack: StackFile) -> None:
    services = "".join(
        f"  svc{n}: {{image: '{IMAGE}', command: [sleep, '300'], init: true}}\n" for n in (10, 2, 1)
    )
    stack.write("environments: {e: {}}\nservices:\n" + services)


def test_ps_env_json_is_the_up_json_document_and_rows_sort_naturally(stack: StackFile) -> None:
    _stack(stack)
    up = stack.cli("up", "e", "--json", "--instance", "i1", "--ttl", "1h")
    assert up.code == 0, up.err
    ps = stack.cli("ps", "e", "--json", "--instance", "i1")
    assert ps.code == 0, ps.err
    up_doc, ps_doc = json.loads(up.out), json.loads(ps.out)
    assert ps_doc == up_doc
    assert ps_doc["expires"] and ps_doc["instance"] == "i1"

    every = json.loads(stack.cli("ps", "--json").out)
    assert every["format_version"] == 1
    assert all("format_version" not in doc for doc in every["projects"])

    rows = stack.cli("ps", "e", "--instance", "i1").out.splitlines()[1:]
    assert [r.split()[1] for r in rows] == ["svc1", "svc2", "svc10"]
    assert all(ps_doc["expires"] in r for r in rows)


def test_ps_env_with_nothing_running_exits_1_and_points_at_instances(stack: StackFile) -> None:
    _stack(stack)
    assert stack.cli("up", "e", "--instance", "a1").code == 0
    missing = stack.cli("ps", "e")
    assert missing.code == 1
    assert f"error[not-running]: nothing of {stack.project('e')} runs" in missing.err
    assert "1 instance of e runs (a1): add --instance ID, or run 'envkit ps --all'" in missing.err
    listing = stack.cli("ps", "--all")
    assert listing.code == 0 and f"{stack.project('e')}-a1-svc1-1" in listing.out

"""plan -o FILE, then up --plan FILE: exactly that plan, or a refusal when it went stale."""

from __future__ import annotations

import json
import os
import stat

import pytest

from .conftest import IMAGE, StackFile

pytestmark = pytest.mark.engine

BODY = (
    "environments: {e: {}}\n"
    "services:\n"
    f"  web: {{image: '{IMAGE}', command: [sleep, '300'], init: true,"
    " environment: {TOKEN: '{{ api_token }}', MODE: '{{ mode }}'}}\n"
    "vars: {mode: a}\n"
)


def test_saved_plan_applies_exactly_and_holds_no_secret(stack: StackFile) -> None:
    stack.write(BODY)
    out = stack.dir / "plan.json"
    made = stack.cli("plan", "e", "-o", str(out), "--var", "api_token=tok-s3cr3t-42")
    assert made.code == 0, made.err
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    text = out.read_text()
    assert "tok-s3cr3t-42" not in text
    doc = json.loads(text)
    assert doc["kind"] == "envkit-saved-plan"
    created = [c["name"] for c in doc["plan"]["changes"] if c["action"] == "create"]
    assert f"{stack.project('e')}-web-1" in created
    assert set(doc["sensitive_vars"]) == {"api_token"}

    missing = stack.cli("up", "--plan", str(out))
    assert missing.code == 2 and "--var api_token=" in missing.err
    wrong = stack.cli("up", "--plan", str(out), "--var", "api_token=other")
    assert wrong.code == 1 and "error[stale-plan]" in wrong.err
    assert "other" not in wrong.err and stack.containers("e") == {}

    applied = stack.cli("up", "--plan", str(out), "--var", "api_token=tok-s3cr3t-42")
    assert applied.code == 0, applied.err
    assert list(stack.containers("e")) == [f"{stack.project('e')}-web-1"]
    again = stack.cli("plan", "e", "--var", "api_token=tok-s3cr3t-42", "--detailed-exitcode")
    assert again.code == 0, again.out


def test_a_stale_plan_is_refused_when_the_stack_or_the_engine_changed(stack: StackFile) -> None:
    stack.write(BODY.replace("{{ api_token }}", "x"))
    assert stack.cli("up", "e").code == 0
    out = stack.dir / "plan.json"
    stack.edit("mode: a", "mode: b")
    assert stack.cli("plan", "e", "-o", str(out)).code == 0
    stack.edit("mode: b", "mode: c")  # the stack moved on
    refused = stack.cli("up", "--plan", str(out))
    assert refused.code == 1 and "desired state" in refused.err and "stale-plan" in refused.err
    [before] = stack.containers("e").values()

    stack.edit("mode: c", "mode: b")
    assert stack.cli("plan", "e", "-o", str(out)).code == 0
    before.stop(timeout=1)  # the engine moved on
    refused = stack.cli("up", "--plan", str(out))
    assert refused.code == 1 and "engine's state" in refused.err
    [still] = stack.containers("e").values()
    assert still.id == before.id  # nothing was changed

    assert stack.cli("plan", "e", "-o", str(out)).code == 0
    assert stack.cli("up", "--plan", str(out)).code == 0
    [after] = stack.containers("e").values()
    assert after.id != before.id and after.attrs["Config"]["Env"].count("MODE=b") == 1


def test_plan_files_that_are_not_plans_are_refused(stack: StackFile) -> None:
    stack.write(BODY.replace("{{ api_token }}", "x"))
    fifo = stack.dir / "fifo"
    os.mkfifo(fifo)
    junk = stack.dir / "junk.json"
    junk.write_text('{"kind": "something-else"}')
    for path in (fifo, junk, stack.dir / "missing.json"):
        got = stack.cli("up", "--plan", str(path))
        assert got.code == 2 and "error[bad-plan-file]" in got.err, got.err
    special = stack.cli("plan", "e", "-o", "/dev/null")
    assert special.code == 2 and "character device" in special.err

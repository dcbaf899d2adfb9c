"""What container labels hold, on the real engine: no secret in clear nor as an unkeyed
digest, wherever the stack uses it; and containers labelled by the previous spec hash
version are kept by an upgraded envkit."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from envkit.model import LABEL, DesiredState, ServiceSpec
from envkit.reconcile import legacy

from .conftest import IMAGE, StackFile

pytestmark = pytest.mark.engine

OLD, NEW = "481516", "Zq9-new-passw0rd-label"  # six digits: enumerable if unkeyed


def write(stack: StackFile) -> None:
    stack.write(
        "environments: {e: {env_file: [.env]}}\n"
        "services:\n"
        "  app:\n"
        f"    image: {IMAGE}\n"
        "    command: [sh, -c, 'sleep 3600 # --password={{ env.DB_PASSWORD }}']\n"
        "    init: true\n    stop_grace_period: 1s\n"
        "    environment: {DB_PASSWORD: '{{ env.DB_PASSWORD }}', MODE: a}\n"
        "    healthcheck:\n"
        "      test: [CMD-SHELL, 'test -n {{ env.DB_PASSWORD }}']\n"
        "      interval: 1s\n"
        "    labels: {dsn: 'mysql://app:{{ env.DB_PASSWORD }}@db/app', team: core}\n"
    )


def leaks(labels: dict[str, str], secret: str) -> list[str]:
    unkeyed = hashlib.sha256(secret.encode()).hexdigest()
    return [
        f"{k}={v}" for k, v in labels.items() if secret in v or unkeyed[:16] in v or unkeyed in v
    ]


def test_a_secret_is_in_no_label_and_no_plan_old_or_new(stack: StackFile, tmp_path: Path) -> None:
    env = {"ENVKIT_STATE_DIR": str(tmp_path / "state")}
    write(stack)
    (stack.dir / ".env").write_text(f"DB_PASSWORD={OLD}\n")
    up = stack.cli("up", "e", env=env)
    assert up.code == 0, up.text
    (ctr,) = stack.containers("e").values()
    labels: dict[str, str] = ctr.labels
    assert leaks(labels, OLD) == []
    # A rendered string that holds a secret is sensitive as a whole.
    assert labels["team"] == "core" and labels["dsn"].startswith("(sensitive:")
    spec = json.loads(labels[LABEL.SPEC])
    assert spec["secret_key_id"] and "(sensitive:" in spec["command"][2]
    # The container itself runs with the real value.
    assert ctr.attrs["Config"]["Cmd"][2] == f"sleep 3600 # --password={OLD}"

    (stack.dir / ".env").write_text(f"DB_PASSWORD={NEW}\n")
    outputs = [stack.cli("plan", "e", env=env), stack.cli("plan", "e", "--json", env=env)]
    text = outputs[0].out
    assert "environment.DB_PASSWORD: (sensitive) -> (sensitive)" in text, text
    assert 'healthcheck.test: ["CMD-SHELL", "(sensitive)"] -> ["CMD-SHELL", "(sensitive)"]' in text
    up2 = stack.cli("up", "e", env=env)
    assert up2.code == 0, up2.text
    outputs.append(up2)
    (ctr,) = stack.containers("e").values()
    assert leaks(ctr.labels, NEW) == [] and leaks(ctr.labels, OLD) == []

    # Another machine with another key cannot tell whether the secret changed: it says so.
    other = {**env, "ENVKIT_SECRET_KEY": "another-machine-key-0123456789abcdef"}
    foreign = stack.cli("plan", "e", env=other)
    assert "# sensitive value hashed with another envkit key" in foreign.out, foreign.text
    outputs.append(foreign)
    for r in outputs:
        assert OLD not in r.text and NEW not in r.text, r.text


def _v1_labels(real: Any) -> Any:
    def labels(desired: DesiredState, spec: ServiceSpec, replica: int, **kw: Any) -> Any:
        out = real(desired, spec, replica, **kw)
        v1 = legacy.canonical_spec_v1(spec)
        out[LABEL.SPEC_HASH] = legacy.spec_hash_v1(spec)
        out[LABEL.SPEC] = json.dumps(v1, sort_keys=True, separators=(",", ":"))
        out.update(dict(spec.labels))  # v1 put user labels as written
        return out

    return labels


def test_containers_labelled_by_the_previous_hash_version_are_kept(
    stack: StackFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import envkit.reconcile.apply as apply_module

    env = {"ENVKIT_STATE_DIR": str(tmp_path / "state")}
    write(stack)
    (stack.dir / ".env").write_text(f"DB_PASSWORD={NEW}\n")
    with monkeypatch.context() as m:
        # envkit with SPEC_HASH_VERSION 1 made these containers.
        m.setattr(apply_module, "container_labels", _v1_labels(apply_module.container_labels))
        made = stack.cli("up", "e", env=env)
    assert made.code == 0, made.text
    (ctr,) = stack.containers("e").values()
    assert ctr.labels[LABEL.SPEC_HASH].startswith("v1-")
    assert json.loads(ctr.labels[LABEL.SPEC])["restart"] == "no"  # v1 kept defaults

    p = stack.cli("plan", "e", "--detailed-exitcode", env=env)
    assert (p.code, p.out.strip()) == (0, f"No changes. {stack.project('e')} matches the stack.")
    again = stack.cli("up", "e", env=env)
    assert again.code == 0, again.text
    assert [c.id for c in stack.containers("e").values()] == [ctr.id]

    stack.edit("MODE: a", "MODE: c")
    changed = stack.cli("plan", "e", env=env)
    assert '~ environment.MODE: (sensitive) -> "c"  # forces recreate' in changed.out
    assert NEW not in changed.text

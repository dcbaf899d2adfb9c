"""plan, up, down, ps, logs and port through ``envkit.cli.main`` against the real engine.

Each test has its own stack (``t<8 hex>``) written to tmp_path; the ``stack`` fixture
removes everything labelled with it afterwards, even when the test fails.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import IMAGE, StackFile, busybox, free_port

pytestmark = pytest.mark.engine

LIFECYCLE = {"create", "start", "stop", "kill", "die", "destroy", "restart", "pause"}


def lifecycle_events(client: Any, project: str, since: float, until: float) -> list[str]:
    """Container lifecycle events of ``project`` between two wall-clock times."""
    events = client.events(
        since=f"{since:.9f}",
        until=f"{until:.9f}",
        decode=True,
        filters={"type": "container", "label": f"io.envkit.project={project}"},
    )
    return [
        f"{e.get('Action')} {e.get('Actor', {}).get('Attributes', {}).get('name')}"
        for e in events
        if e.get("Action") in LIFECYCLE
    ]


def snapshot(stack: StackFile, env: str) -> dict[str, tuple[str, str]]:
    """name -> (container id, State.StartedAt)."""
    return {
        name: (c.id, c.attrs["State"]["StartedAt"]) for name, c in stack.containers(env).items()
    }


def two_services(stack: StackFile, *, rev: str = "1", port: int | None = None) -> None:
    ports = f"ports: ['127.0.0.1:{port}:80']" if port else ""
    stack.write(
        "environments: {e: {}}\n"
        "services:\n"
        + busybox(
            "web", command="httpd -f -p 80 -h /", extra=f"environment: {{REV: '{rev}'}}\n{ports}"
        )
        + busybox("worker", extra="depends_on: [web]")
    )


# -- plan ---------------------------------------------------------------------------------


def test_plan_text_json_and_detailed_exitcode_before_and_after_up(stack: StackFile) -> None:
    two_services(stack)
    p = stack.project("e")

    fresh = stack.cli("plan", "e")
    assert fresh.code == 0, fresh.err
    assert f"envkit will perform the following actions on {p}:" in fresh.out
    assert f"+ network {p}" in fresh.out
    assert f"+ container {p}-web-1 (web)" in fresh.out
    assert f"+ container {p}-worker-1 (worker)" in fresh.out
    assert fresh.out.rstrip().endswith(
        "Plan: 3 to create, 0 to recreate, 0 to start, 0 to remove, 0 unchanged."
    )
    assert stack.containers("e") == {}  # plan changes nothing

    data = json.loads(stack.cli("plan", "e", "--json").out)
    assert data["format_version"] == 2 and data["project"] == p and data["has_changes"]
    assert {(c["kind"], c["action"]) for c in data["changes"]} == {
        ("network", "create"),
        ("container", "create"),
    }
    assert data["summary"]["create"] == 3 and data["conflicts"] == []
    assert stack.cli("plan", "e", "--detailed-exitcode").code == 2

    up = stack.cli("up", "e")
    assert up.code == 0, up.err

    after = stack.cli("plan", "e")
    assert after.code == 0 and after.out.strip() == f"No changes. {p} matches the stack."
    data = json.loads(stack.cli("plan", "e", "--json").out)
    assert not data["has_changes"] and data["summary"]["unchanged"] == 2
    assert {c["action"] for c in data["changes"]} == {"noop"}
    quiet = stack.cli("plan", "e", "--detailed-exitcode")
    assert quiet.code == 0, quiet.text


# -- idempotence --------------------------------------------------------------------------


def test_up_twice_changes_nothing(stack: StackFile, docker_client: Any) -> None:
    two_services(stack, port=free_port())
    p = stack.project("e")
    t_first = time.time() - 1
    first = stack.cli("up", "e", "--wait", "--timeout", "30")
    assert first.code == 0, first.err
    before = snapshot(stack, "e")
    # The event query sees what the first up did (so an empty answer below means something).
    seen = lifecycle_events(docker_client, p, t_first, time.time() + 0.5)
    assert f"create {p}-web-1" in seen and f"start {p}-worker-1" in seen
    assert set(before) == {f"{p}-web-1", f"{p}-worker-1"}

    time.sleep(1.1)  # event times have second resolution on some engines
    t0 = time.time()
    second = stack.cli("up", "e")
    t1 = time.time() + 0.5
    assert second.code == 0, second.err
    assert f"No changes. {p} matches the stack." in second.err
    assert second.out == ""
    assert snapshot(stack, "e") == before
    assert lifecycle_events(docker_client, p, t0, t1) == []

    # --wait on a converged instance waits, but still changes nothing.
    third = stack.cli("up", "e", "--wait", "--timeout", "30")
    assert third.code == 0, third.err
    assert snapshot(stack, "e") == before


# -- the three-environment picture --------------------------------------------------------


THREE_ENVS = """\
vars: {greeting: hello}
environments:
  dev: {vars: {port: %(dev)d}}
  test: {vars: {port: %(test)d}}
  release: {vars: {port: %(release)d, greeting: %(release_greeting)s}}
services:
  db:
    image: %(image)s
    command: [sh, -c, "echo $GREETING > /data/greeting; exec httpd -f -p 80 -h /data"]
    init: true
    stop_grace_period: 1s
    environment: {GREETING: "{{ greeting }}"}
    ports: ["127.0.0.1:{{ port }}:80"]
    volumes: ["data:/data"]
volumes:
  data: {}
"""


def three_envs(stack: StackFile, ports: dict[str, int], release_greeting: str = "hello") -> None:
    stack.write(THREE_ENVS % {**ports, "image": IMAGE, "release_greeting": release_greeting})


def fetch(port: int, path: str) -> str:
    import urllib.request

    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/{path}", timeout=2) as resp:
                return str(resp.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_three_environments_side_by_side(stack: StackFile, docker_client: Any) -> None:
    envs = ("dev", "test", "release")
    ports = {e: free_port() for e in envs}
    three_envs(stack, ports)
    for env in envs:
        r = stack.cli("up", env, "--wait", "--timeout", "30")
        assert r.code == 0, r.err

    for env in envs:
        p = stack.project(env)
        [c] = stack.containers(env).values()
        assert c.name == f"{p}-db-1"
        assert c.attrs["HostConfig"]["PortBindings"] == {
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(ports[env])}]
        }
        assert list(c.attrs["NetworkSettings"]["Networks"]) == [p]
        assert [m["Name"] for m in c.attrs["Mounts"]] == [f"{p}_data"]
        assert stack.cli("port", env, "db", "80").out.strip() == f"127.0.0.1:{ports[env]}"
        assert fetch(ports[env], "greeting").strip() == "hello"

    # A file in dev's named volume survives dev's recreate.
    dev = stack.containers("dev")[f"{stack.project('dev')}-db-1"]
    assert dev.exec_run(["sh", "-c", "echo kept > /data/mark"]).exit_code == 0

    # Change ONE environment's value: only release is recreated.
    before = {env: snapshot(stack, env) for env in envs}
    three_envs(stack, ports, release_greeting="bonjour")
    plans = {env: stack.cli("plan", env, "--detailed-exitcode") for env in envs}
    assert plans["dev"].code == 0 and plans["test"].code == 0
    assert plans["release"].code == 2
    assert 'environment.GREETING: "hello" -> "bonjour"' in plans["release"].out
    for env in envs:
        assert stack.cli("up", env, "--wait", "--timeout", "30").code == 0
    assert snapshot(stack, "dev") == before["dev"]
    assert snapshot(stack, "test") == before["test"]
    release_after = snapshot(stack, "release")
    assert set(release_after) == set(before["release"])
    assert all(release_after[n][0] != before["release"][n][0] for n in release_after)
    assert fetch(ports["release"], "greeting").strip() == "bonjour"

    # Recreate dev (a --var changes its spec): the volume and the file in it survive.
    r = stack.cli("up", "dev", "--var", "greeting=hi", "--wait", "--timeout", "30")
    assert r.code == 0, r.err
    assert snapshot(stack, "dev") != before["dev"]
    assert fetch(ports["dev"], "mark").strip() == "kept"

    # down dev keeps its volume; down --volumes removes it; down twice is fine.
    vol = f"{stack.project('dev')}_data"
    down = stack.cli("down", "dev")
    assert down.code == 0, down.err
    assert f"{vol}: kept (use --volumes to remove)" in down.err
    assert re.search(r"^\d+ removed, 1 kept in \d+\.\d s$", down.err, re.M), down.err
    assert stack.containers("dev") == {}
    assert docker_client.volumes.get(vol)
    assert not docker_client.networks.list(names=[stack.project("dev")])
    assert stack.cli("down", "dev", "--volumes").code == 0
    assert not docker_client.volumes.list(filters={"name": vol})
    again = stack.cli("down", "dev", "--volumes")
    assert again.code == 0, again.err
    assert re.fullmatch(r"nothing to remove in \d+\.\d s\n", again.err), again.err
    # The others are untouched.
    assert snapshot(stack, "test") == before["test"]
    assert docker_client.volumes.get(f"{stack.project('test')}_data")


# -- reasons and secrets ------------------------------------------------------------------


SECRET = "s3cr3t-Pa55word-9d1c"


def test_plan_reasons_name_fields_and_never_print_secrets(stack: StackFile) -> None:
    port, new_port = free_port(), free_port()
    (stack.dir / ".env").write_text(f"DB_PASSWORD={SECRET}\n")

    def write(*, rev: str, port: int, image: str = IMAGE) -> None:
        stack.write(
            "environments: {e: {env_file: [.env]}}\n"
            "services:\n"
            "  app:\n"
            f"    image: {image}\n"
            "    command: [sleep, '3600']\n"
            "    init: true\n    stop_grace_period: 1s\n"
            f"    environment: {{REV: '{rev}', DB_PASSWORD: '{{{{ env.DB_PASSWORD }}}}'}}\n"
            f"    ports: ['127.0.0.1:{port}:80']\n"
        )

    write(rev="1", port=port)
    outputs = [stack.cli("render", "e"), stack.cli("render", "e", "--json")]
    outputs.append(stack.cli("plan", "e"))
    outputs.append(stack.cli("plan", "e", "--json"))
    up = stack.cli("up", "e", "--json")
    assert up.code == 0, up.err
    outputs.append(up)

    docker_client = stack.client
    tagged = f"envkit-test/busybox:{stack.name}"
    docker_client.images.get(IMAGE).tag(tagged)
    try:
        write(rev="2", port=new_port, image=tagged)
        p = stack.cli("plan", "e")
        outputs.append(p)
        assert p.code == 0, p.err
        assert f"-/+ container {stack.project('e')}-app-1 (app)" in p.out
        assert 'environment.REV: "1" -> "2"  # forces recreate' in p.out
        assert f'ports[0]: "127.0.0.1:{port}->80/tcp" -> "127.0.0.1:{new_port}->80/tcp"' in p.out
        assert f'image: "{IMAGE}" -> "{tagged}"' in p.out
        diffs = json.loads(stack.cli("plan", "e", "--json").out)["changes"][0]["diffs"]
        assert {
            "path": "environment.REV",
            "before": "1",
            "after": "2",
            "sensitive": False,
            "forces_recreate": True,
        } in diffs
        # Error messages that quote a rendered value must not leak it either.
        text = stack.path.read_text()
        stack.path.write_text(text.replace(f"'127.0.0.1:{new_port}:80'", "'{{ env.DB_PASSWORD }}'"))
        for command in ("plan", "up", "render"):
            bad = stack.cli(command, "e")
            assert bad.code == 2 and "services.app.ports[0]" in bad.err, bad.text
            outputs.append(bad)
        stack.path.write_text(text)
        up2 = stack.cli("up", "e")
        assert up2.code == 0, up2.err
        outputs.append(up2)
        outputs.append(stack.cli("ps", "e", "--json"))
    finally:
        stack.cli("down", "e")
        docker_client.images.remove(tagged)
    for r in outputs:
        assert SECRET not in r.text, r.text
    assert any("(sensitive)" in r.text for r in outputs)


# -- prune --------------------------------------------------------------------------------


def test_removed_service_and_lowered_replicas_are_pruned(stack: StackFile) -> None:
    p = stack.project("e")

    def write(*, replicas: int, with_extra: bool) -> None:
        body = "environments: {e: {}}\nservices:\n" + busybox("app", extra=f"replicas: {replicas}")
        if with_extra:
            body += busybox("extra")
        stack.write(body)

    write(replicas=3, with_extra=True)
    assert stack.cli("up", "e").code == 0
    assert set(stack.containers("e")) == {f"{p}-app-1", f"{p}-app-2", f"{p}-app-3", f"{p}-extra-1"}
    kept = snapshot(stack, "e")

    write(replicas=3, with_extra=False)
    plan = stack.cli("plan", "e")
    assert f"- container {p}-extra-1 (extra)  # service removed from the stack" in plan.out
    assert "1 to remove" in plan.out
    assert stack.cli("up", "e").code == 0
    assert set(stack.containers("e")) == {f"{p}-app-1", f"{p}-app-2", f"{p}-app-3"}

    write(replicas=1, with_extra=False)
    plan = stack.cli("plan", "e")
    assert f"- container {p}-app-3 (app)  # replicas lowered to 1" in plan.out
    assert "2 to remove" in plan.out
    assert stack.cli("up", "e").code == 0
    assert snapshot(stack, "e") == {f"{p}-app-1": kept[f"{p}-app-1"]}
    assert stack.cli("plan", "e", "--detailed-exitcode").code == 0


# -- ps, logs, port -----------------------------------------------------------------------


def test_ps_logs_and_port(stack: StackFile) -> None:
    port = free_port()
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox(
            "web",
            command="echo web says hello; exec httpd -f -p 80 -h /",
            extra=f"ports: ['127.0.0.1:{port}:80', '127.0.0.1::81']",
        )
        + busybox("talker", command="i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    )
    p = stack.project("e")
    assert stack.cli("up", "e", "--wait", "--timeout", "30").code == 0

    ps = stack.cli("ps", "e")
    assert ps.code == 0
    lines = ps.out.splitlines()
    assert lines[0].split() == [
        "PROJECT", "SERVICE", "CONTAINER", "IMAGE", "STATE", "HEALTH", "CREATED", "EXPIRES", "PORTS"
    ]  # fmt: skip
    assert any(f"{p}-web-1" in line and "running" in line for line in lines)
    assert any(f"127.0.0.1:{port}->80/tcp" in line for line in lines)
    web_line = next(line for line in lines if f"{p}-web-1" in line)
    assert IMAGE in web_line and " ago " in web_line

    proj = json.loads(stack.cli("ps", "e", "--json").out)  # the document up --json prints
    assert proj["format_version"] == 1 and proj["expires"] is None
    assert proj["project"] == p
    web = proj["services"]["web"]
    assert web["state"] == "running" and web["ports"]["80/tcp"] == f"127.0.0.1:{port}"
    assert [c["name"] for c in web["containers"]] == [f"{p}-web-1"]
    assert proj["services"]["talker"]["state"] == "running"

    logs = stack.cli("logs", "e", "web")
    assert logs.code == 0 and "web says hello" in logs.out
    both = stack.cli("logs", "e")
    assert re.search(rf"^{p}-web-1 +\| web says hello$", both.out, re.M), both.out
    assert f"{p}-talker-1 | tick 0" in both.out  # names padded to one width

    proc = subprocess.Popen(
        stack.argv("logs", "e", "talker", "-f"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("tick "), first
        second = proc.stdout.readline() if proc.stdout else ""
        assert second.startswith("tick "), second
    finally:
        proc.kill()
        proc.wait(10)

    assert stack.cli("port", "e", "web", "80").out.strip() == f"127.0.0.1:{port}"
    random = stack.cli("port", "e", "web", "81/tcp")
    assert random.code == 0 and random.out.strip().startswith("127.0.0.1:")
    missing = stack.cli("port", "e", "web", "8080")
    assert missing.code == 1
    assert f"{p}-web-1 does not publish 8080/tcp" in missing.err
    assert "Traceback" not in missing.err
    nosvc = stack.cli("port", "e", "nope", "80")
    assert nosvc.code == 2 and "has no service 'nope'" in nosvc.err


def test_ctrl_c_ends_logs_follow_quietly_with_130(stack: StackFile) -> None:
    """Ctrl-C is how `logs -f` ends: exit 130 and no "run the same command again to
    converge" (nothing was being changed)."""
    import signal

    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("talker", command="i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done")
    )
    assert stack.cli("up", "e").code == 0
    proc = subprocess.Popen(
        stack.argv("logs", "e", "talker", "-f"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline() if proc.stdout else ""
        assert first.startswith("tick "), first
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == 130, (out, err)
    assert err == "", err


def test_host_ports_moved_or_swapped_between_services(stack: StackFile) -> None:
    p1, p2 = free_port(), free_port()

    def write(ports: dict[str, int]) -> None:
        body = "environments: {e: {}}\nservices:\n"
        for name, port in ports.items():
            body += busybox(name, extra=f"ports: ['127.0.0.1:{port}:80']")
        stack.write(body)

    write({"a": p1})
    assert stack.cli("up", "e").code == 0
    # a's port goes to the new service b, a moves to another one.
    write({"a": p2, "b": p1})
    r = stack.cli("up", "e")
    assert r.code == 0, r.err
    assert stack.cli("port", "e", "b", "80").out.strip() == f"127.0.0.1:{p1}"
    # Swap them: each service waits for the other's port.
    write({"a": p1, "b": p2})
    r = stack.cli("up", "e")
    assert r.code == 0, r.err
    assert stack.cli("port", "e", "a", "80").out.strip() == f"127.0.0.1:{p1}"
    assert stack.cli("port", "e", "b", "80").out.strip() == f"127.0.0.1:{p2}"
    assert stack.cli("plan", "e", "--detailed-exitcode").code == 0


def test_ps_without_env_lists_the_stack_or_every_project(
    stack: StackFile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_services(stack)
    assert stack.cli("up", "e").code == 0
    p = stack.project("e")
    # With the stack file: that stack's instances.
    assert f"{p}-web-1" in stack.cli("ps").out
    # Outside any stack's folder, without -f: every envkit project, as --all does.
    from envkit.cli import main

    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)
    out, err = io.StringIO(), io.StringIO()
    assert main(["ps"], stdout=out, stderr=err) == 0, err.getvalue()
    assert f"{p}-web-1" in out.getvalue()
    # An explicit -f that does not exist is still an error.
    assert main(["-f", "missing.yaml", "ps"], stdout=out, stderr=err) == 2

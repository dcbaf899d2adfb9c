"""Reading and watching a Swarm environment on the 3-node test cluster: ``envkit ps`` and
``envkit logs`` through the manager, ``up --ttl`` refused, the update monitor window, and the
Python API. Stacks come from ``test_swarm_stack``'s ``Stack`` (owner-labelled, taken down
afterwards even when a test fails); every service uses ``endpoint_mode: dnsrr`` (no IPVS)."""

from __future__ import annotations

import json
import random
import select
import subprocess
import sys
import time

import pytest

import envkit
from envkit.engine.swarm_base import ObservedSwarm
from envkit.errors import ApplyError
from envkit.reconcile.swarm_gc import SwarmDownResult

from .harness import Cluster
from .test_swarm_stack import Stack, _service
from .test_swarm_stack import stack as stack  # the fixture, re-exported


def _envkit(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "envkit", "-f", str(stack.file), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ps_and_logs_read_the_services_and_tasks_through_the_manager(stack: Stack) -> None:
    o = stack.owner
    port = random.randint(20000, 29999)  # host mode: published on each task's node
    stack.services = {
        "web": _service(
            "web",
            o,
            f"  replicas: 2\nports: [{{target: 8080, published: {port}, mode: host}}]\n",
            '[sh, -c, "echo hello web; echo to stderr >&2; exec httpd -f -p 8080"]',
        ),
        "agent": _service("agent", o, "  mode: global\n", '[sh, -c, "echo agent up; sleep 3600"]'),
    }
    stack.up()

    ps = _envkit(stack, "ps", "dev", "--json")
    assert ps.returncode == 0, ps.stderr
    doc = json.loads(ps.stdout)
    assert (doc["format_version"], doc["engine"], doc["project"]) == (1, "swarm", stack.project)
    web, agent = doc["services"]["web"], doc["services"]["agent"]
    assert web["mode"] == "replicated" and web["state"] == "running"
    assert web["replicas"] == {"desired": 2, "running": 2}
    assert web["ports"] == {"8080/tcp": f"0.0.0.0:{port}"}
    assert web["port_modes"] == {"8080/tcp": "host"}
    running = [t for t in web["tasks"] if t["state"] == "running"]
    assert sorted(t["slot"] for t in running) == [1, 2]
    assert sorted(t["node"] for t in running) == stack.running_nodes("web")
    assert agent["mode"] == "global" and agent["replicas"] == {"desired": 3, "running": 3}
    assert sorted(t["node"] for t in agent["tasks"]) == ["envkit-n1", "envkit-n2", "envkit-n3"]

    up = _envkit(stack, "up", "dev", "--json")  # a no-op up prints the same document
    assert up.returncode == 0, up.stderr
    again = json.loads(up.stdout)
    assert again["engine"] == "swarm" and again["services"]["web"]["replicas"] == web["replicas"]

    text = _envkit(stack, "ps", "dev")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["SERVICE", "MODE", "REPLICAS", "STATE", "PORTS"]
    assert any(line.split()[:4] == ["web", "replicated", "2/2", "running"] for line in lines)
    assert f"{port}->8080/tcp (host)" in text.stdout
    assert any(line.split()[:2] == ["web.1", "web"] for line in lines)

    logs = _envkit(stack, "logs", "dev", "web")
    assert logs.returncode == 0, logs.stderr
    by_task = sorted(line.split(" | ", 1)[0].split("@")[0] for line in logs.stdout.splitlines())
    assert by_task == ["web.1", "web.1", "web.2", "web.2"], logs.stdout
    assert all(line.endswith(("hello web", "to stderr")) for line in logs.stdout.splitlines())
    one = _envkit(stack, "logs", "dev", "web", "--index", "2", "--timestamps", "--tail", "1")
    assert one.returncode == 0, one.stderr
    [line] = one.stdout.splitlines()  # one replica: no prefix; its last line, stamped
    stamp, _, rest = line.partition(" ")
    assert stamp[:4].isdigit() and stamp.endswith("Z") and rest in ("hello web", "to stderr")
    every = _envkit(stack, "logs", "dev")
    assert "agent up" in every.stdout and "hello web" in every.stdout
    until = _envkit(stack, "logs", "dev", "--until", "1m")
    assert until.returncode == 2 and "--until is not available on a Swarm" in until.stderr

    follow = subprocess.Popen(
        [sys.executable, "-m", "envkit", "-f", str(stack.file), "logs", "-f", "dev", "agent"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        ready, _, _ = select.select([follow.stdout], [], [], 60)
        assert ready, "logs -f printed nothing within 60 s"
        first = follow.stdout.readline()  # the old lines come first, then it keeps following
        assert first.rstrip().endswith("| agent up"), first
        time.sleep(1)
        assert follow.poll() is None  # still following
    finally:
        follow.kill()
        follow.wait(10)


def test_ps_of_a_swarm_environment_with_nothing_deployed_is_not_running(stack: Stack) -> None:
    stack.services = {"web": _service("web", stack.owner)}
    stack.write()
    ps = _envkit(stack, "ps", "dev")
    assert ps.returncode == 1 and "error[not-running]" in ps.stderr, ps
    assert "envkit up dev" in ps.stderr
    logs = _envkit(stack, "logs", "dev")
    assert logs.returncode == 1 and "error[not-running]" in logs.stderr, logs
    listing = _envkit(stack, "ps")  # the stack's container engines, and a word on the Swarm
    assert "note: environment dev is on a Swarm: list it with 'envkit ps dev'" in listing.stderr


def test_up_ttl_leaves_a_lease_and_gc_swarm_takes_the_expired_stack_down(
    stack: Stack, cluster: Cluster
) -> None:
    stack.services = {"web": _service("web", stack.owner)}
    stack.write()
    up = _envkit(stack, "up", "dev", "--ttl", "1h", "--json")
    assert up.returncode == 0, up.stderr
    expires = json.loads(up.stdout)["expires"]
    assert expires is not None and expires.endswith("Z")
    ps = json.loads(_envkit(stack, "ps", "dev", "--json").stdout)
    assert ps["expires"] == expires
    again = _envkit(stack, "up", "dev", "--ttl", "2s")  # shortened: the new lease replaces it
    assert again.returncode == 0, again.stderr
    assert "lease" not in again.stderr  # bookkeeping, not a change of the stack
    assert _envkit(stack, "plan", "dev", "--detailed-exitcode").returncode == 0  # nor a diff
    leases = [o for o in stack.engine.observe_swarm(stack.project).objects if o.kind == "lease"]
    assert len(leases) == 1
    gc = [sys.executable, "-m", "envkit", "gc", "--swarm", cluster.manager_host, "--json"]
    time.sleep(3)
    dry = subprocess.run([*gc, "--dry-run"], capture_output=True, text=True, timeout=120)
    assert dry.returncode == 0, dry.stderr
    [entry] = [r for r in json.loads(dry.stdout)["removed"] if r["project"] == stack.project]
    assert entry["services"] == [f"{stack.project}_web"] and entry["env"] == "dev"
    assert stack.engine.observe_swarm(stack.project).services != ()  # a dry run removes nothing
    # The Python API says the same as the CLI (envkit.gc(swarm=MANAGER)).
    api = envkit.gc(swarm=cluster.manager_host, dry_run=True)
    [reaped] = [r for r in api.reaped if r.candidate.project == stack.project]
    assert isinstance(reaped.removed, SwarmDownResult)
    assert reaped.removed.services == (f"{stack.project}_web",)
    assert stack.engine.observe_swarm(stack.project).services != ()
    real = subprocess.run(gc, capture_output=True, text=True, timeout=300)
    assert real.returncode == 0, real.stderr
    assert stack.project in [r["project"] for r in json.loads(real.stdout)["removed"]]
    assert stack.engine.observe_swarm(stack.project) == ObservedSwarm(stack.project)
    mixed = subprocess.run([*gc, "--older-than", "1d"], capture_output=True, text=True)
    assert mixed.returncode == 2 and "--older-than does not go with --swarm" in mixed.stderr


def test_a_rolling_update_waits_out_the_monitor_window(stack: Stack) -> None:
    o, monitor = stack.owner, 6
    update = f"  update_config: {{monitor: {monitor}s, failure_action: rollback}}\n"
    stack.services = {"web": _service("web", o, update + "environment: {MODE: a}\n")}
    stack.up()
    stack.services["web"] = stack.services["web"].replace("MODE: a", "MODE: b")
    started = time.monotonic()
    stack.up()
    took = time.monotonic() - started
    # Swarm says "completed" only after the new task ran for the monitor window (measured on
    # this cluster: ~1 s to start + 10 s for a 10 s window), and envkit waits for it.
    assert took >= monitor, f"up returned after {took:.1f} s, inside the {monitor} s window"
    s = stack.engine.service(f"{stack.project}_web")
    assert s is not None and s.update_state == "completed"


def test_a_task_failing_inside_the_monitor_window_rolls_back_and_is_reported(
    stack: Stack,
) -> None:
    o = stack.owner
    update = "  update_config: {monitor: 15s, failure_action: rollback}\n"
    restart = "  restart_policy: {condition: none}\n"
    stack.services = {"web": _service("web", o, update + restart + "environment: {MODE: a}\n")}
    stack.up()
    before = stack.versions()["web"]
    # The new version runs, converges (1/1 running), and dies 3 s later: inside the window.
    stack.services["web"] = _service(
        "web", o, update + restart + "environment: {MODE: b}\n",
        '[sh, -c, "echo dying soon; sleep 3; echo died >&2; exit 3"]',
    )  # fmt: skip
    with pytest.raises(ApplyError) as caught:
        stack.up(timeout=120)
    err = caught.value
    assert err.code == "swarm-update-failed"
    assert "was rolled back" in err.message, err.render()
    assert "exit (3)" in (err.detail or "") and "died" in (err.detail or ""), err.detail
    s = stack.engine.service(f"{stack.project}_web")
    assert s is not None and s.update_state == "rollback_completed" and s.version > before
    env = dict(kv.split("=", 1) for kv in s.engine_spec["TaskTemplate"]["ContainerSpec"]["Env"])
    assert env["MODE"] == "a"  # the previous spec runs again


def test_a_created_service_failing_inside_its_monitor_window_is_reported(
    stack: Stack,
) -> None:
    """Swarm monitors only updates: after a create envkit watches the window itself."""
    o = stack.owner
    stack.services = {
        "web": _service(
            "web", o, "  update_config: {monitor: 15s}\n",
            '[sh, -c, "echo up; sleep 3; echo died >&2; exit 3"]',
        )
    }  # fmt: skip
    with pytest.raises(ApplyError) as caught:
        stack.up(timeout=120)
    err = caught.value
    assert "web failed inside its monitor window (15 s)" in err.message, err.render()
    assert "exit (3)" in (err.detail or "") and "died" in (err.detail or ""), err.detail


def test_the_python_api_deploys_reads_and_removes_a_swarm_environment(stack: Stack) -> None:
    import envkit
    from envkit.swarm_env import SwarmEnvironment

    o = stack.owner
    stack.services = {
        "web": _service("web", o, "  replicas: 2\n", '[sh, -c, "echo api hello; sleep 3600"]')
    }
    stack.write()
    loaded = envkit.load(stack.file)
    with loaded.ephemeral("dev") as env:  # its lease (1 h) is the last resort, for gc --swarm
        assert isinstance(env, SwarmEnvironment) and env.plan is not None
        assert env.project.startswith(f"{o}-dev-")  # its own instance: its own services
        doc = env.status()
        assert doc["engine"] == "swarm" and doc["instance"] == env.instance
        assert doc["expires"] is not None and doc["expires"] == env.expires
        assert doc["services"]["web"]["replicas"] == {"desired": 2, "running": 2}
        text = env.logs("web")
        lines = sorted(text.splitlines())
        assert len(lines) == 2 and all(line.endswith(" | api hello") for line in lines), text
        assert lines[0].startswith("web.1@envkit-n") and lines[1].startswith("web.2@envkit-n")
        again = loaded.attach("dev", instance=env.instance)
        assert again.status()["services"]["web"]["state"] == "running"
        project = env.project
    assert stack.engine.observe_swarm(project).services == ()  # the with block removed it
    assert stack.engine.observe_swarm(project).objects == ()

    up = loaded.up("dev")
    try:
        assert up.status()["services"]["web"]["state"] == "running"
    finally:
        gone = up.down()
    assert gone.services == (f"{stack.project}_web",) and gone.networks == (
        f"{stack.project}_back",
    )
    assert up.down().services == ()  # a second down finds nothing and succeeds


def test_gc_on_a_swarm_node_leaves_the_stack_to_swarm_and_says_so(
    stack: Stack, cluster: Cluster
) -> None:
    stack.services = {"web": _service("web", stack.owner, "  mode: global\n")}
    stack.up()
    for node in cluster.nodes:  # a task's container on every node; the manager sees them all
        # --dry-run: the cluster is shared, and a real gc would reap others' old instances
        gc = _envkit(stack, "gc", "--engine", node.host, "--older-than", "1s",
                     "--include-unexpiring", "--dry-run", "--json")  # fmt: skip
        assert gc.returncode == 0, gc.stderr
        doc = json.loads(gc.stdout)
        assert {"project": stack.project, "reason": "swarm"} in doc["skipped"], doc
        assert stack.project not in [r["project"] for r in doc["removed"]]
        assert f"{stack.project}: a Swarm stack" in gc.stderr

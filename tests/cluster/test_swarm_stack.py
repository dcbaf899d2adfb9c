"""envkit's Swarm path on the 3-node test cluster: stack file -> plan -> up / down.

Every stack here is named after the test's ``owner`` and carries the owner label on its
services (deploy.labels), so the ``owner`` fixture removes
it even when a test fails; each test also takes its stack down in a ``finally``.
No IPVS on this kernel: every service uses ``endpoint_mode: dnsrr``.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from envkit.engine.swarm import SwarmEngine
from envkit.engine.swarm_base import ObservedSwarm
from envkit.errors import ApplyError
from envkit.reconcile.swarm_apply import swarm_down, swarm_up
from envkit.reconcile.swarm_plan import ServiceAction, SwarmPlan, swarm_plan
from envkit.reconcile.swarm_rollback import swarm_rollback
from envkit.stackfile.pipeline import read, resolve
from envkit.stackfile.swarmkeys import to_swarm
from envkit.swarm_model import SwarmStack

from .harness import OWNER, Cluster, link_down, wait_until

IMAGE = "envkit-test/busybox:latest"


def _service(name: str, owner: str, extra: str = "", command: str = '[sleep, "3600"]') -> str:
    return textwrap.dedent(f"""\
      {name}:
        image: {IMAGE}
        command: {command}
        stop_grace_period: 200ms
        networks: [back]
        deploy:
          endpoint_mode: dnsrr
          labels: {{{OWNER}: {owner}}}
    """) + textwrap.indent(extra, "  ")


class Stack:
    def __init__(self, cluster: Cluster, owner: str, folder: Path) -> None:
        self.owner = owner
        self.file = folder / "envkit.yaml"
        self.engine = SwarmEngine(cluster.manager_host)
        self.manager = cluster.manager_host
        self.services: dict[str, str] = {}

    def write(self) -> None:
        body = "".join(textwrap.indent(s, "  ") for s in self.services.values())
        self.file.write_text(
            f"stack: {self.owner}\nenvironments:\n  dev: {{engine: {{swarm: '{self.manager}'}}}}\n"
            f"services:\n{body}"
            # The network carries only envkit's labels: the fixture's swarm_down removes it
            # (the harness's cleanup would race it: a network being removed answers 500).
            "networks:\n  back: {}\n",
            encoding="utf-8",
        )

    def load(self) -> SwarmStack:
        self.write()
        r = resolve(read(self.file), "dev")
        return to_swarm(r.rendered, r.desired)

    def plan(self) -> SwarmPlan:
        stack = self.load()
        return swarm_plan(stack, self.engine.observe_swarm(stack.project))

    def up(self, timeout: float = 120) -> SwarmPlan:
        return swarm_up(
            self.engine, self.load(), timeout=timeout, object_ids=self.engine.object_ids
        )

    def versions(self) -> dict[str, int]:
        return {s.service: s.version for s in self.engine.observe_swarm(self.project).services}

    @property
    def project(self) -> str:
        return f"{self.owner}-dev"

    def running_nodes(self, service: str) -> list[str]:
        s = self.engine.service(f"{self.project}_{service}")
        assert s is not None
        return sorted(t.node for t in s.tasks if t.state == "running")


@pytest.fixture
def stack(cluster: Cluster, owner: str, tmp_path: Path) -> Iterator[Stack]:
    s = Stack(cluster, owner, tmp_path)
    try:
        yield s
    finally:
        with contextlib.suppress(Exception):
            swarm_down(s.engine, s.project)
        s.engine.close()


def _actions(plan: SwarmPlan) -> dict[str, ServiceAction]:
    return {c.service: c.action for c in plan.services}


def test_six_services_across_three_nodes_then_noop_then_one_rolling_update(
    stack: Stack,
) -> None:
    o = stack.owner
    stack.services = {
        "web": _service("web", o, "  replicas: 3\n  update_config: {order: start-first}\n"
                        "environment: {MODE: a}\n", '[httpd, -f, -p, "8080"]'),
        "api": _service("api", o, "  replicas: 2\ndepends_on: [web]\n"),
        "worker": _service("worker", o, "  mode: global\n"),
        "cache": _service("cache", o),
        "queue": _service("queue", o, "  replicas: 2\n"),
        "cron": _service("cron", o, "  placement: {constraints: [node.labels.envkit.node == n3]}\n"),
    }  # fmt: skip
    first = stack.up()
    assert set(_actions(first).values()) == {ServiceAction.CREATE}
    assert len(stack.running_nodes("worker")) == 3  # global: one per node
    assert len(set(stack.running_nodes("web"))) >= 2  # spread over nodes
    assert stack.running_nodes("cron") == ["envkit-n3"]  # the constraint is honoured
    versions = stack.versions()

    noop = stack.up()
    assert noop.empty, noop.render()
    assert stack.versions() == versions  # nothing was sent

    stack.services["web"] = stack.services["web"].replace("MODE: a", "MODE: c")
    plan = stack.plan()
    assert plan.render().splitlines()[0] == (
        '~ web: rolling update (environment.MODE: "a" -> "c"), start-first'
    )
    stack.up()
    after = stack.versions()
    assert after["web"] > versions["web"]
    assert {k: v for k, v in after.items() if k != "web"} == {
        k: v for k, v in versions.items() if k != "web"
    }


def test_scale_two_five_one_is_in_place(stack: Stack) -> None:
    stack.services = {"app": _service("app", stack.owner, "  replicas: 2\n")}
    stack.up()
    assert len(stack.running_nodes("app")) == 2
    for n in (5, 1):
        stack.services["app"] = _service("app", stack.owner, f"  replicas: {n}\n")
        plan = stack.plan()
        assert [c.describe() for c in plan.changes] == [f"~ app: scale {2 if n == 5 else 5} -> {n}"]
        stack.up()
        assert len(stack.running_nodes("app")) == n


def test_failing_healthcheck_rolls_back_and_says_why(stack: Stack) -> None:
    ok = "healthcheck: {test: [CMD, 'true'], interval: 500ms, retries: 1}\n"
    bad = "healthcheck: {test: [CMD, 'false'], interval: 500ms, retries: 1}\n"
    conf = (
        "  replicas: 2\n  update_config: {failure_action: rollback, monitor: 2s}\n"
        "  rollback_config: {parallelism: 0}\n"
    )
    stack.services = {"db": _service("db", stack.owner, conf + ok)}
    stack.up()
    good_version = stack.versions()["db"]
    stack.services["db"] = _service("db", stack.owner, conf + bad)
    with pytest.raises(ApplyError) as caught:
        stack.up(timeout=120)
    err = caught.value
    assert err.code == "swarm-update-failed"
    assert "was rolled back" in err.message, err.render()
    assert "unhealthy container" in err.message, err.render()  # the reason, from the task
    assert err.detail is not None and "on envkit-n" in err.detail  # the failed task, its node
    s = stack.engine.service(f"{stack.project}_db")
    assert s is not None and s.version > good_version
    assert s.update_state == "rollback_completed"


def test_down_then_immediate_up_works(stack: Stack) -> None:
    stack.services = {"a": _service("a", stack.owner), "b": _service("b", stack.owner)}
    stack.up()
    assert swarm_down(stack.engine, stack.project) >= 3  # 2 services and the network
    observed = stack.engine.observe_swarm(stack.project)
    assert observed.services == () and observed.objects == ()
    plan = stack.up()
    assert set(_actions(plan).values()) == {ServiceAction.CREATE}
    assert len(stack.running_nodes("a")) == 1


def test_rollback_returns_the_whole_stack_to_the_previous_up(stack: Stack) -> None:
    o = stack.owner
    stack.services = {
        "web": _service("web", o, "environment: {MODE: a}\n"),
        "api": _service("api", o),
    }
    stack.up()
    v1 = stack.load()
    stack.services["web"] = _service("web", o, "environment: {MODE: c}\n")
    stack.services["extra"] = _service("extra", o)
    stack.up()
    done = swarm_rollback(stack.engine, stack.project)
    assert sorted(done) == ["- extra (made by the last up)", "~ web: back to its previous spec"]
    after = swarm_plan(v1, stack.engine.observe_swarm(stack.project))
    assert after.empty, after.render()  # exactly the state before the last up
    web = stack.engine.service(f"{stack.project}_web")
    assert web is not None
    assert "MODE=a" in web.engine_spec["TaskTemplate"]["ContainerSpec"]["Env"]
    with pytest.raises(ApplyError, match="no previous state"):
        swarm_rollback(stack.engine, stack.project)


def test_a_node_cut_off_shows_in_the_plan_and_up_converges_when_it_is_back(
    cluster: Cluster, stack: Stack
) -> None:
    extra = "  replicas: 3\n  placement: {max_replicas_per_node: 2}\n"
    command = '[sh, -c, "echo app up; exec sleep 3600"]'
    stack.services = {"app": _service("app", stack.owner, extra, command)}
    stack.up()
    assert stack.running_nodes("app") == ["envkit-n1", "envkit-n2", "envkit-n3"]
    version = stack.versions()["app"]
    n3 = cluster.nodes[2]
    with link_down(cluster, n3):
        plan = wait_until(
            "the plan to show tasks rescheduled off envkit-n3",
            lambda: "node down" in (p := stack.plan()).render() and p,
            timeout=90,
        )
        assert "tasks rescheduled from envkit-n3 (node down)" in plan.render(), plan.render()
        assert plan.changes[0].action is ServiceAction.CONVERGE

        # The manager's service log would wait for envkit-n3 until the socket times out
        # (60 s); envkit reads the tasks on the nodes that are up and names the one it could
        # not read.
        started = time.monotonic()
        logs = subprocess.run(
            [sys.executable, "-m", "envkit", "-f", str(stack.file), "logs", "dev", "app"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert time.monotonic() - started < 30, logs
        assert logs.returncode == 1 and "error[logs-incomplete]" in logs.stderr, logs
        assert "@envkit-n3 is on a node that is down" in logs.stderr, logs.stderr
        shown = [line.split(" | ", 1) for line in logs.stdout.splitlines()]
        assert len(shown) >= 2 and all(text == "app up" for _, text in shown), logs.stdout
        assert not any("envkit-n3" in name for name, _ in shown), logs.stdout
    up = stack.up(timeout=180)  # waits until n3 has stopped its old task
    assert [c.action for c in up.services] == [ServiceAction.CONVERGE]
    assert stack.plan().empty
    assert stack.versions()["app"] == version  # nothing was sent: Swarm did the rescheduling
    assert len(stack.running_nodes("app")) == 3


PROBE = "for i in 1 2 3 4 5 6 7 8 9 10; do nslookup web && break; sleep 1; done"


def _lookup(client: Any, container: str) -> list[str]:
    out = client.containers.get(container).exec_run(["sh", "-c", PROBE]).output.decode()
    answers = out.split("Name:", 1)[-1] if "Name:" in out else ""
    return sorted(line.split()[-1] for line in answers.splitlines() if "Address" in line)


def test_service_names_resolve_the_same_on_one_engine_and_on_the_swarm(
    cluster: Cluster, stack: Stack
) -> None:
    o = stack.owner
    stack.services = {
        "web": _service("web", o, "replicas: 2\n", '[httpd, -f, -p, "8080"]'),
        "probe": _service("probe", o),
    }
    stack.up()
    probe = stack.engine.service(f"{stack.project}_probe")
    assert probe is not None
    task = next(t for t in probe.tasks if t.state == "running")
    node = next(n for n in cluster.nodes if n.hostname == task.node)
    client = node.client()

    def both() -> list[str] | None:
        found = _lookup(client, task.container_id)
        return found if len(found) > 1 else None

    try:
        # A task on another node reaches the swarm's DNS by gossip, a moment after it runs:
        # `up` returns when the tasks run (as `docker stack deploy` does), not when every
        # node's resolver knows them.
        on_swarm = wait_until("both web tasks in the swarm's DNS", both, timeout=20)
    finally:
        client.close()
    # The same services on one engine (the host's): the same file, an environment without
    # `engine:`; envkit's container path.
    stack.write()
    text = stack.file.read_text(encoding="utf-8").replace(
        "environments:\n", "environments:\n  one: {}\n"
    )
    single = stack.file.with_name("one.yaml")
    single.write_text(text.replace(f"stack: {o}", f"stack: {o}one"), encoding="utf-8")
    run = [sys.executable, "-m", "envkit", "-f", str(single)]
    try:
        subprocess.run([*run, "up", "one", "--wait"], check=True, capture_output=True)
        local = docker.from_env()
        try:
            on_one = _lookup(local, f"{o}one-one-probe-1")
        finally:
            local.close()
    finally:
        subprocess.run([*run, "down", "one"], capture_output=True)
    # dnsrr on Swarm, per-container records on one engine: `web` is every replica's address.
    assert len(on_swarm) == 2, on_swarm
    assert len(on_one) == 2, on_one


def test_a_secret_change_rolls_its_service_and_keeps_one_previous_version(stack: Stack) -> None:
    o = stack.owner
    stack.services = {
        "app": _service("app", o, "secrets: [tok]\n"),
        "other": _service("other", o),
    }
    secret = stack.file.with_name("tok.txt")

    def names() -> list[str]:
        return sorted(x.name for x in stack.engine.observe_swarm(stack.project).objects
                      if x.kind == "secret")  # fmt: skip

    def up_with(value: str) -> SwarmPlan:
        secret.write_text(value, encoding="utf-8")
        stack.write()
        with stack.file.open("a", encoding="utf-8") as f:
            f.write("secrets:\n  tok: {file: tok.txt}\n")
        r = resolve(read(stack.file), "dev")
        return swarm_up(stack.engine, to_swarm(r.rendered, r.desired),
                        object_ids=stack.engine.object_ids)  # fmt: skip

    up_with("one")
    first = names()
    versions = stack.versions()
    plan = up_with("two")
    assert [c.service for c in plan.changes] == ["app"]
    assert "secrets[0]" in plan.changes[0].describe() and "two" not in plan.render()
    assert stack.versions()["other"] == versions["other"]
    second = names()
    assert len(second) == 2 and first[0] in second  # the previous version stays for rollback
    up_with("three")
    third = names()
    assert len(third) == 2 and first[0] not in third  # two versions back: removed


def test_a_job_runs_to_completion_before_its_dependent_and_not_again(stack: Stack) -> None:
    o = stack.owner
    job = "  mode: replicated-job\n  replicas: 2\n"
    stack.services = {
        "migrate": _service("migrate", o, job, '[sh, -c, "echo migrated"]'),
        "app": _service("app", o, "depends_on: [migrate]\n"),
    }
    stack.up()
    s = stack.engine.service(f"{stack.project}_migrate")
    assert s is not None
    assert sorted(t.state for t in s.tasks) == ["complete", "complete"]
    app = stack.engine.service(f"{stack.project}_app")
    assert app is not None and len([t for t in app.tasks if t.state == "running"]) == 1
    again = stack.up()
    assert again.empty, again.render()  # a completed job is not run again


def test_the_cli_plans_ups_rolls_back_and_takes_down_a_swarm_environment(
    cluster: Cluster, stack: Stack
) -> None:
    o = stack.owner
    stack.services = {"web": _service("web", o, "environment: {MODE: a}\n")}
    stack.write()
    text = stack.file.read_text(encoding="utf-8")
    swarm_env = f"  dev: {{engine: {{swarm: '{cluster.manager_host}'}}}}\n"
    stack.file.write_text(text.replace("  dev: {}\n", swarm_env), encoding="utf-8")

    def envkit(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "envkit", "-f", str(stack.file), *args],
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    plan = envkit("plan", "dev", "--detailed-exitcode")
    assert plan.returncode == 2 and plan.stdout.startswith("+ web"), plan
    assert "warning[image-per-node]" in plan.stderr
    assert envkit("up", "dev").returncode == 0
    assert envkit("plan", "dev", "--detailed-exitcode").returncode == 0
    stack.file.write_text(stack.file.read_text(encoding="utf-8").replace("MODE: a", "MODE: b"),
                          encoding="utf-8")  # fmt: skip
    changed = envkit("plan", "dev")
    assert '~ web: rolling update (environment.MODE: "a" -> "b"), stop-first' in changed.stdout
    assert envkit("up", "dev").returncode == 0
    back = envkit("rollback", "dev")
    assert back.returncode == 0 and "~ web: back to its previous spec" in back.stderr, back
    again = envkit("plan", "dev")  # the file says b; the stack is back at a
    assert 'environment.MODE: "a" -> "b"' in again.stdout
    down = envkit("down", "dev")
    assert down.returncode == 0, down
    assert stack.engine.observe_swarm(stack.project) == ObservedSwarm(stack.project)

"""The Swarm planner (pure): rolling update vs in-place vs converge, from a rendered stack and
observed services built by hand. VIP endpoints and ingress ports are covered here as
rendering only: the test cluster's kernel has no IPVS, so they cannot run there."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from envkit.engine.swarm_base import ObservedService, ObservedSwarm, ObservedTask
from envkit.model import LABEL
from envkit.reconcile.swarm_plan import ServiceAction, swarm_plan
from envkit.reconcile.swarm_spec import TASK_HASH, engine_spec, service_labels
from envkit.stackfile.pipeline import read, resolve
from envkit.stackfile.swarmkeys import to_swarm
from envkit.swarm_model import SwarmStack

BASE = """\
stack: s
environments: {dev: {engine: {swarm: "unix:///run/envkit-cluster/n1.sock"}}}
services:
  web:
    image: busybox
    environment: {MODE: MODE_VALUE, TOKEN: "{{ env.TOKEN }}"}
    ports: [{target: 80, published: 8080, mode: host}, {target: 81, published: 8081}]
    deploy:
      replicas: REPLICAS
      update_config: {order: start-first, monitor: 2s}
      placement: {constraints: [node.role == worker], max_replicas_per_node: 1}
      resources: {limits: {cpus: "0.5", memory: 64M}}
    secrets: [tok]
secrets:
  tok: {content: SECRET_VALUE}
"""


def _stack(tmp_path: Path, mode: str = "a", replicas: int = 2, secret: str = "s1") -> SwarmStack:
    text = BASE.replace("MODE_VALUE", mode).replace("REPLICAS", str(replicas))
    f = tmp_path / "envkit.yaml"
    f.write_text(text.replace("SECRET_VALUE", secret), encoding="utf-8")
    r = resolve(read(f), "dev", environ={"TOKEN": "hunter2"})
    return to_swarm(r.rendered, r.desired)


def _observed(stack: SwarmStack, running: int = 2, version: int = 7) -> ObservedSwarm:
    svc = stack.service("web")
    labels = service_labels(stack, svc)
    tasks = tuple(
        ObservedTask(f"t{i}", "sid", f"n{i}", "running", "running", version) for i in range(running)
    )
    observed = ObservedService(
        "sid", "s-dev_web", "web", version, labels, json.loads(labels[LABEL.SPEC]), tasks=tasks
    )
    return ObservedSwarm("s-dev", (observed,))


def test_unchanged_stack_plans_nothing(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    plan = swarm_plan(stack, _observed(stack))
    assert [c.action for c in plan.services] == [ServiceAction.NOOP]


def test_env_change_is_a_rolling_update_with_its_reason_and_order(tmp_path: Path) -> None:
    plan = swarm_plan(_stack(tmp_path, mode="c"), _observed(_stack(tmp_path)))
    assert [c.describe() for c in plan.changes] == [
        '~ web: rolling update (environment.MODE: "a" -> "c"), start-first'
    ]


def test_replicas_only_is_in_place(tmp_path: Path) -> None:
    plan = swarm_plan(_stack(tmp_path, replicas=3), _observed(_stack(tmp_path)))
    assert [c.describe() for c in plan.changes] == ["~ web: scale 2 -> 3"]
    assert plan.changes[0].action is ServiceAction.IN_PLACE


def test_secret_change_rolls_the_service_and_never_shows_the_value(tmp_path: Path) -> None:
    before = _stack(tmp_path, secret="old-secret-value")
    after = _stack(tmp_path, secret="new-secret-value")
    plan = swarm_plan(after, _observed(before))
    text = plan.render()
    assert plan.changes[0].action is ServiceAction.ROLLING
    assert "secrets[0]" in text
    assert "secret-value" not in text and "hunter2" not in text
    name_old = before.secrets[0].engine_name(before.project)
    assert name_old != after.secrets[0].engine_name(after.project)
    assert all(o.create for o in plan.objects)
    spec = json.dumps(service_labels(after, after.service("web")))
    assert "new-secret-value" not in spec and "hunter2" not in spec


def test_missing_tasks_make_a_converge_change(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    observed = _observed(stack, running=1)
    observed = replace(observed, nodes_down=("n0",))
    plan = swarm_plan(stack, observed)
    assert [c.describe() for c in plan.changes] == [
        "~ web: tasks rescheduled from n0 (node down); 1/2 tasks running"
    ]


def test_the_engine_spec_is_complete(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    spec = engine_spec(stack, stack.service("web"), {"s-dev_default": "netid"})
    t = spec["TaskTemplate"]
    assert spec["Mode"] == {"Replicated": {"Replicas": 2}}
    assert spec["UpdateConfig"] == {"Order": "start-first", "Monitor": 2_000_000_000}
    assert t["Placement"] == {"Constraints": ["node.role == worker"], "MaxReplicas": 1}
    assert t["Resources"] == {"Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 64 * 1024**2}}
    assert t["Networks"] == [{"Target": "netid", "Aliases": ["web"]}]
    assert t["ContainerSpec"]["Secrets"][0]["File"]["Name"] == "/run/secrets/tok"
    # VIP and ingress: rendering only (no IPVS on the test cluster's kernel).
    assert spec["EndpointSpec"] == {
        "Mode": "vip",
        "Ports": [
            {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"},
            {"Protocol": "tcp", "TargetPort": 81, "PublishedPort": 8081, "PublishMode": "ingress"},
        ],
    }
    assert spec["Labels"][TASK_HASH].startswith("s1-")

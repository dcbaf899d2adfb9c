"""apply and down against the real engine, with hand-made plans (no planner involved)."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.request
from typing import Any

import pytest

from envkit.engine.base import ObservedContainer
from envkit.engine.docker import DockerEngine
from envkit.errors import ApplyError, ImageNotFound
from envkit.model import (
    Condition,
    Dependency,
    Healthcheck,
    Mount,
    MountType,
    PortSpec,
    PullPolicy,
    ServiceSpec,
)
from envkit.progress import Outcome, Subject
from envkit.reconcile.apply import apply
from envkit.reconcile.changes import Action, Change, Plan
from envkit.reconcile.plan import ResourceKind
from envkit.reconcile.teardown import remove_instance

from .conftest import IMAGE, Project, svc


class Recorder:
    """A Reporter that keeps (time, subject name, message) in order."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, str]] = []
        self._lock = threading.Lock()

    def step(self, subject: Subject, message: str, outcome: Outcome | None = None) -> None:
        with self._lock:
            self.events.append((time.monotonic(), subject.name, message))

    def output(self, subject: Subject, line: str) -> None:
        pass

    def when(self, subject: str, message: str) -> float:
        return next(t for t, s, m in self.events if s == subject and m == message)


def healthy_after(seconds: float) -> dict[str, Any]:
    return {
        "command": ("sh", "-c", f"sleep {seconds}; touch /tmp/ok; exec sleep 3600"),
        "healthcheck": Healthcheck(("CMD-SHELL", "test -f /tmp/ok"), interval_s=0.3, retries=100),
    }


def test_create_network_volume_and_healthy_containers(
    engine: DockerEngine, project: Project, docker_client: Any
) -> None:
    spec = svc("db", mounts=(Mount(MountType.VOLUME, "/data", "data"),), **healthy_after(0.5))
    desired = project.desired(spec, volumes=("data",))
    result = apply(project.create_plan(desired), engine, Recorder(), wait=True, timeout_s=30)
    name = f"{project.name}-db-1"
    assert set(result.container_ids) == {name}
    assert (project.name, Action.CREATE) in result.done
    assert (name, Action.CREATE) in result.done
    [c] = engine.observe(desired).containers
    assert c.id == result.container_ids[name]
    assert c.state == "running" and c.health == "healthy"
    attrs = docker_client.containers.get(name).attrs
    assert attrs["Mounts"][0]["Name"] == f"{project.name}_data"
    assert project.name in attrs["NetworkSettings"]["Networks"]
    assert "db" in attrs["NetworkSettings"]["Networks"][project.name]["Aliases"]


def test_ports_on_loopback_with_random_host_ports(engine: DockerEngine, project: Project) -> None:
    spec = svc(
        "web",
        command=(
            "sh",
            "-c",
            "mkdir -p /www && echo hello-envkit > /www/index.html && exec httpd -f -p 8000 -h /www",
        ),
        ports=(PortSpec(8000, host_ip="127.0.0.1"),),
    )
    desired = project.desired(spec)
    apply(project.create_plan(desired), engine, Recorder(), wait=True, timeout_s=30)
    [c] = engine.observe(desired).containers
    [binding] = c.ports
    assert binding.host_ip == "127.0.0.1" and binding.host_port > 0
    deadline = time.monotonic() + 10
    while True:
        try:
            url = f"http://127.0.0.1:{binding.host_port}/index.html"
            with urllib.request.urlopen(url, timeout=2) as resp:
                assert resp.read().strip() == b"hello-envkit"
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_dependent_waits_for_healthy_and_reaches_it_by_name(
    engine: DockerEngine, project: Project
) -> None:
    db = svc(
        "db",
        command=(
            "sh",
            "-c",
            "sleep 1; mkdir -p /www && echo pong > /www/ping && "
            "touch /tmp/ok && exec httpd -f -p 8000 -h /www",
        ),
        healthcheck=Healthcheck(("CMD-SHELL", "test -f /tmp/ok"), interval_s=0.3, retries=100),
    )
    web = svc(
        "web",
        command=("sh", "-c", "wget -q -O /tmp/got http://db:8000/ping && exec sleep 3600"),
        depends_on=(Dependency("db", Condition.HEALTHY),),
    )
    other = svc("other")  # independent: not held back by db
    desired = project.desired(web, db, other)
    rec = Recorder()
    apply(project.create_plan(desired), engine, rec, wait=True, timeout_s=30)
    db_started = rec.when(f"{project.name}-db-1", "started")
    web_created = rec.when(f"{project.name}-web-1", "created")
    other_created = rec.when(f"{project.name}-other-1", "created")
    assert web_created - db_started > 0.8  # waited for the healthcheck, not just the start
    assert other_created < web_created
    states = {c.service: c.state for c in engine.observe(desired).containers}
    assert states == {"db": "running", "web": "running", "other": "running"}


def test_completed_condition(engine: DockerEngine, project: Project) -> None:
    job = svc("migrate", command=("sh", "-c", "sleep 0.5; echo done"))
    app = svc("app", depends_on=(Dependency("migrate", Condition.COMPLETED),))
    desired = project.desired(app, job)
    rec = Recorder()
    apply(project.create_plan(desired), engine, rec, timeout_s=30)
    states = {c.service: c.state for c in engine.observe(desired).containers}
    assert states == {"migrate": "exited", "app": "running"}


def test_container_that_exits_at_once_shows_its_logs(
    engine: DockerEngine, project: Project
) -> None:
    bad = svc("bad", command=("sh", "-c", "echo boom-marker >&2; exit 3"))
    desired = project.desired(bad)
    with pytest.raises(ApplyError) as info:
        apply(project.create_plan(desired), engine, Recorder(), wait=True, timeout_s=20)
    err = info.value
    assert err.message.startswith(f"{project.name}-bad-1 exited with code 3")
    assert err.detail is not None and "boom-marker" in err.detail
    assert err.hint is not None and "envkit logs e bad" in err.hint


def test_failed_service_stops_dependents_but_not_independent_branches(
    engine: DockerEngine, project: Project
) -> None:
    check = Healthcheck(("CMD-SHELL", "true"), interval_s=0.2)
    bad = svc("bad", command=("sh", "-c", "echo boom-marker; exit 3"), healthcheck=check)
    after = svc("after", depends_on=(Dependency("bad", Condition.HEALTHY),))
    last = svc("last", depends_on=(Dependency("after"),))
    fine = svc("fine")
    desired = project.desired(bad, after, last, fine)
    with pytest.raises(ApplyError) as info:
        apply(project.create_plan(desired), engine, Recorder(), wait=True, timeout_s=20)
    text = info.value.render()
    assert f"{project.name}-bad-1 exited with code 3" in text
    assert "boom-marker" in text
    assert "last not started: its dependency after failed" in text
    services = {c.service: c.state for c in engine.observe(desired).containers}
    assert set(services) == {"bad", "fine"}  # dependents were never created
    assert services["fine"] == "running"  # the independent branch finished


def test_unhealthy_healthcheck_shows_health_log(engine: DockerEngine, project: Project) -> None:
    spec = svc(
        "sick",
        healthcheck=Healthcheck(
            ("CMD-SHELL", "echo probe-marker; exit 1"), interval_s=0.3, retries=1
        ),
    )
    desired = project.desired(spec)
    t0 = time.monotonic()
    with pytest.raises(ApplyError) as info:
        apply(project.create_plan(desired), engine, Recorder(), wait=True, timeout_s=20)
    assert time.monotonic() - t0 < 15
    assert "unhealthy" in info.value.message
    assert info.value.detail is not None and "probe-marker" in info.value.detail


def test_health_never_passing_times_out(engine: DockerEngine, project: Project) -> None:
    spec = svc(
        "slow",
        healthcheck=Healthcheck(("CMD-SHELL", "exit 1"), interval_s=0.3, start_period_s=60),
    )
    desired = project.desired(spec)
    t0 = time.monotonic()
    with pytest.raises(ApplyError) as info:
        apply(project.create_plan(desired), engine, Recorder(), wait=True, timeout_s=1.5)
    assert 1.5 <= time.monotonic() - t0 < 10
    assert info.value.code == "timeout"
    assert "not healthy after 1.5s" in info.value.message


def _only(engine: DockerEngine, desired: Any) -> ObservedContainer:
    [c] = engine.observe(desired).containers
    return c


def test_recreate_keeps_named_volume(engine: DockerEngine, project: Project) -> None:
    mounts = (Mount(MountType.VOLUME, "/data", "data"),)
    written = Healthcheck(("CMD-SHELL", "test -f /data/f"), interval_s=0.2)
    v1 = svc(
        "db",
        command=("sh", "-c", "echo kept > /data/f; exec sleep 3600"),
        mounts=mounts,
        healthcheck=written,
    )
    d1 = project.desired(v1, volumes=("data",))
    apply(project.create_plan(d1), engine, Recorder(), wait=True, timeout_s=20)
    before = _only(engine, d1)

    v2 = svc("db", command=("sh", "-c", "cat /data/f; exec sleep 3600"), mounts=mounts)
    d2 = project.desired(v2, volumes=("data",))
    change = Change(
        ResourceKind.CONTAINER, before.name, Action.RECREATE, "db", 1, before=before, after=v2
    )
    result = apply(Plan(d2, (change,)), engine, Recorder(), wait=True, timeout_s=20)
    after = _only(engine, d2)
    assert after.id != before.id and after.id == result.container_ids[before.name]
    assert result.done == ((before.name, Action.RECREATE),)
    deadline = time.monotonic() + 10
    while "kept" not in engine.logs(after.id):
        assert time.monotonic() < deadline, engine.logs(after.id)
        time.sleep(0.1)


def test_start_and_remove_actions(engine: DockerEngine, project: Project) -> None:
    desired = project.desired(svc("a"), svc("b"))
    apply(project.create_plan(desired), engine, Recorder())
    obs = {c.service: c for c in engine.observe(desired).containers}
    engine.stop_container(obs["a"].id, 1)
    only_a = project.desired(svc("a"))
    plan = Plan(
        only_a,
        (
            Change(ResourceKind.CONTAINER, obs["a"].name, Action.START, "a", 1, before=obs["a"]),
            Change(ResourceKind.CONTAINER, obs["b"].name, Action.REMOVE, "b", 1, before=obs["b"]),
        ),
    )
    apply(plan, engine, Recorder(), wait=True, timeout_s=20)
    [a] = engine.observe(only_a).containers
    assert a.id == obs["a"].id and a.state == "running"


def test_noop_makes_no_calls(engine: DockerEngine, project: Project) -> None:
    desired = project.desired(svc("a"))
    apply(project.create_plan(desired), engine, Recorder())
    c = _only(engine, desired)
    plan = Plan(desired, (Change(ResourceKind.CONTAINER, c.name, Action.NOOP, "a", 1, before=c),))
    result = apply(plan, engine, Recorder(), wait=True, timeout_s=10)
    assert result.done == () and result.container_ids == {c.name: c.id}
    assert _only(engine, desired).created == c.created


def test_down_keeps_volumes_unless_asked_and_is_idempotent(
    engine: DockerEngine, project: Project, docker_client: Any
) -> None:
    db = svc("db", mounts=(Mount(MountType.VOLUME, "/data", "data"),))
    web = svc("web", depends_on=(Dependency("db"),))
    desired = project.desired(web, db, volumes=("data",))
    apply(project.create_plan(desired), engine, Recorder())
    rec = Recorder()
    result = remove_instance(desired, engine, volumes=False, reporter=rec)
    assert sorted(result.containers) == [f"{project.name}-db-1", f"{project.name}-web-1"]
    assert rec.when(f"{project.name}-web-1", "removed") < rec.when(
        f"{project.name}-db-1", "stopping"
    )
    assert result.networks == (project.name,) and result.volumes == ()
    observed = engine.observe(desired)
    assert observed.containers == () and observed.networks == ()
    assert [v.name for v in observed.volumes] == [f"{project.name}_data"]

    again = remove_instance(project.name, engine, volumes=True, reporter=Recorder())
    assert again.containers == () and again.volumes == (f"{project.name}_data",)
    assert engine.observe(desired).volumes == ()
    remove_instance(project.name, engine, volumes=True, reporter=Recorder())


def test_down_never_touches_unlabelled_objects(
    engine: DockerEngine, project: Project, docker_client: Any
) -> None:
    desired = project.desired(svc("db"), volumes=("data",))
    net = docker_client.networks.create(project.name, labels=project.label())
    vol = docker_client.volumes.create(f"{project.name}_data", labels=project.label())
    ctr = docker_client.containers.create(
        IMAGE, name=f"{project.name}-db-1", labels=project.label()
    )
    result = remove_instance(desired, engine, volumes=True, reporter=Recorder())
    assert result.containers == () and result.networks == () and result.volumes == ()
    net.reload()
    vol.reload()
    ctr.reload()


def test_ctrl_c_during_a_wait_stops_cleanly(engine: DockerEngine, project: Project) -> None:
    slow = svc(
        "slow",
        healthcheck=Healthcheck(("CMD-SHELL", "exit 1"), interval_s=0.3, start_period_s=60),
    )
    later = svc("later", depends_on=(Dependency("slow", Condition.HEALTHY),))
    desired = project.desired(slow, later)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            apply(project.create_plan(desired), engine, Recorder(), timeout_s=60)
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 10
    # What was done is whole: the network and slow exist, later was never created.
    observed = engine.observe(desired)
    assert [c.service for c in observed.containers] == ["slow"]
    assert [n.name for n in observed.networks] == [project.name]


def test_missing_image_fails_before_touching_the_old_container(
    engine: DockerEngine, project: Project
) -> None:
    desired = project.desired(svc("a"), svc("b"))
    apply(project.create_plan(desired), engine, Recorder())
    obs = {c.service: c for c in engine.observe(desired).containers}
    gone = ServiceSpec("a", "envkit-test/absent:1", pull_policy=PullPolicy.NEVER)
    d2 = project.desired(gone, svc("b", depends_on=(Dependency("a"),)))
    plan = Plan(
        d2,
        (
            Change(ResourceKind.CONTAINER, obs["a"].name, Action.RECREATE, "a", 1, obs["a"], gone),
            Change(ResourceKind.CONTAINER, obs["b"].name, Action.NOOP, "b", 1, obs["b"]),
        ),
    )
    with pytest.raises(ImageNotFound) as info:
        apply(plan, engine, Recorder())
    assert "envkit-test/absent:1" in info.value.message
    assert "b not started: its dependency a failed" in (info.value.detail or "")
    after = {c.service: c for c in engine.observe(desired).containers}
    assert after["a"].id == obs["a"].id and after["a"].state == "running"

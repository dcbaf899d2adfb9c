"""``up SERVICE...``, ``plan SERVICE...`` and ``down``/``rm SERVICE...`` on the real engine:
only those services (plus their dependencies for up), the others neither shown nor
pruned."""

from __future__ import annotations

from .conftest import StackFile, busybox


def _write(stack: StackFile) -> None:
    stack.write(
        "environments: {e: {}}\nservices:\n"
        + busybox("db")
        + busybox("api", extra="depends_on: [db]")
        + busybox("worker")
    )


def test_up_and_plan_a_service_with_its_dependencies_only(stack: StackFile) -> None:
    _write(stack)
    p = stack.project("e")
    plan = stack.cli("plan", "e", "api")
    assert plan.code == 0, plan.text
    assert f"{p}-api-1" in plan.out and f"{p}-db-1" in plan.out
    assert f"{p}-worker-1" not in plan.out
    up = stack.cli("up", "e", "api")
    assert up.code == 0, up.text
    assert set(stack.containers("e")) == {f"{p}-db-1", f"{p}-api-1"}

    assert stack.cli("up", "e", "worker").code == 0  # does not prune db/api
    assert set(stack.containers("e")) == {f"{p}-db-1", f"{p}-api-1", f"{p}-worker-1"}

    # a service dropped from the stack file is not pruned by up of another service
    stack.edit("  worker:\n", "  worker2:\n")
    assert stack.cli("up", "e", "db").code == 0
    assert f"{p}-worker-1" in stack.containers("e")
    assert stack.cli("up", "e").code == 0  # the whole stack prunes it
    assert f"{p}-worker-1" not in stack.containers("e")


def test_down_and_rm_services_keep_the_rest(stack: StackFile) -> None:
    _write(stack)
    p = stack.project("e")
    assert stack.cli("up", "e").code == 0
    done = stack.cli("down", "e", "worker")
    assert done.code == 0, done.text
    assert set(stack.containers("e")) == {f"{p}-db-1", f"{p}-api-1"}
    assert stack.cli("rm", "e", "api").code == 0
    assert set(stack.containers("e")) == {f"{p}-db-1"}
    nets = stack.client.networks.list(names=[p])
    assert [n.name for n in nets] == [p]  # the network stays

    bare = stack.cli("rm", "e")
    assert bare.code == 2 and "rm needs the services" in bare.err
    vols = stack.cli("down", "e", "db", "--volumes")
    assert vols.code == 2 and "not with SERVICE" in vols.err
    unknown = stack.cli("up", "e", "nope")
    assert unknown.code == 2 and "has no service 'nope'" in unknown.err
    assert "Traceback" not in unknown.text

"""The planner converges: from any stack A to any stack B, applying plan(A) then plan(B) to
an engine leaves nothing to change, and the engine holds exactly B's containers."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st
from plan_fixtures import KEY

from envkit.canonical import container_labels, project_labels, spec_hash
from envkit.engine.fake import FakeEngine
from envkit.model import (
    Condition,
    Dependency,
    DesiredState,
    Mount,
    MountType,
    PortSpec,
    ServiceSpec,
    VolumeSpec,
    container_name,
)
from envkit.reconcile.changes import Action, Plan
from envkit.reconcile.plan import ResourceKind, plan

NAMES = ("api", "db", "cache", "worker")
IMAGES = ("app:1", "app:2", "db:1")
FIXED_PORT = {name: 18000 + i for i, name in enumerate(NAMES)}  # one host port per service


@st.composite
def services(draw: st.DrawFn) -> tuple[ServiceSpec, ...]:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    out: list[ServiceSpec] = []
    for i, name in enumerate(names):
        replicas = draw(st.integers(1, 3))
        ports: tuple[PortSpec, ...] = ()
        kind = draw(st.sampled_from(["none", "random", "fixed"]))
        if kind == "random" or (kind == "fixed" and replicas > 1):
            ports = (PortSpec(80, host_ip="127.0.0.1"),)
        elif kind == "fixed":
            ports = (PortSpec(80, host_ip="127.0.0.1", published=FIXED_PORT[name]),)
        env = draw(
            st.dictionaries(st.sampled_from(["A", "B", "PASSWORD"]), st.sampled_from(["1", "2"]))
        )
        deps = draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []
        out.append(
            ServiceSpec(
                name=name,
                image=draw(st.sampled_from(IMAGES)),
                environment=tuple(sorted(env.items())),
                sensitive_env=frozenset({"PASSWORD"}),
                ports=ports,
                mounts=(Mount(MountType.VOLUME, "/data", "data"),) if draw(st.booleans()) else (),
                depends_on=tuple(Dependency(d, Condition.STARTED) for d in deps),
                restart=draw(st.sampled_from(["no", "always"])),
                replicas=replicas,
            )
        )
    return tuple(out)


def stack(specs: tuple[ServiceSpec, ...]) -> DesiredState:
    return DesiredState("shop", "dev", None, specs, (VolumeSpec("data"),), secret_key=KEY)


def execute(p: Plan, engine: FakeEngine) -> None:
    """The smallest apply: carry out each change in plan order."""
    desired = p.desired
    for change in p.changes:
        if change.kind is ResourceKind.NETWORK:
            engine.create_network(change.name, project_labels(desired))
        elif change.kind is ResourceKind.VOLUME:
            engine.create_volume(change.name, project_labels(desired))
        elif change.action in (Action.REMOVE, Action.RECREATE):
            assert change.before is not None
            engine.stop_container(change.before.id, 1)
            engine.remove_container(change.before.id)
        if change.kind is not ResourceKind.CONTAINER:
            continue
        if change.action in (Action.CREATE, Action.RECREATE):
            spec, n = change.after, change.replica
            assert spec is not None and n is not None
            engine.ensure_image(spec)
            labels = container_labels(desired, spec, n)
            engine.start_container(engine.create_container(desired, spec, n, labels))
        elif change.action is Action.START:
            assert change.before is not None
            engine.start_container(change.before.id)


def up(desired: DesiredState, engine: FakeEngine) -> Plan:
    p = plan(desired, engine.observe(desired))
    assert p.conflicts == ()
    execute(p, engine)
    return p


@settings(max_examples=150, deadline=None)
@given(
    a=services(),
    b=services(),
    retag=st.sets(st.sampled_from(IMAGES)),
    stopped=st.sets(st.sampled_from(NAMES)),
)
def test_up_a_then_up_b_converges_to_b(
    a: tuple[ServiceSpec, ...],
    b: tuple[ServiceSpec, ...],
    retag: set[str],
    stopped: set[str],
) -> None:
    engine = FakeEngine(registry={ref: f"sha256:{i}" * 8 for i, ref in enumerate(IMAGES)})
    # A neighbour project on the same engine, same services on engine-picked ports: never
    # touched.
    neighbour = replace(
        stack(a),
        environment="test",
        services=tuple(
            replace(s, ports=tuple(replace(p, published=None) for p in s.ports)) for s in a
        ),
    )
    up(neighbour, engine)
    before_neighbour = engine.observe(neighbour).containers

    up(stack(a), engine)
    for name in stopped:  # some containers stopped behind envkit's back
        if (found := engine.container(container_name("shop-dev", name, 1))) is not None:
            engine.set_state(found.name, "exited", exit_code=1)
    for ref in retag:  # and some tags now point at new images
        engine.add_image(ref)

    up(stack(b), engine)

    final = plan(stack(b), engine.observe(stack(b)))
    assert not final.has_changes and final.conflicts == ()
    observed = engine.observe(stack(b))
    assert {c.name: c.spec_hash for c in observed.containers} == {
        container_name("shop-dev", s.name, n): spec_hash(s, stack(b).secrets)
        for s in b
        for n in range(1, s.replicas + 1)
    }
    assert all(c.state == "running" for c in observed.containers)
    assert engine.observe(neighbour).containers == before_neighbour

    calls = len(engine.mutating_calls)
    up(stack(b), engine)  # the second up changes nothing
    assert len(engine.mutating_calls) == calls

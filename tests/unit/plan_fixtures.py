"""Shared builders for planner tests: a desired state and what an engine would report."""

from __future__ import annotations

import json

from envkit.canonical import canonical_spec, spec_hash
from envkit.engine.base import ObservedContainer, ObservedNetwork, ObservedState, ObservedVolume
from envkit.model import (
    Condition,
    Dependency,
    DesiredState,
    Mount,
    MountType,
    PortSpec,
    SecretKey,
    Secrets,
    ServiceSpec,
    VolumeSpec,
)
from envkit.reconcile.changes import Plan
from envkit.reconcile.spec_diff import FieldDiff, show_value

P = "shop-dev"
KEY = SecretKey(b"plan-fixtures-secret-key-0123456789abcdef")
KEYED = Secrets(key=KEY)
IMG = {"mysql:5.7": "sha256:" + "a" * 64, "web:1": "sha256:" + "b" * 64}

DB = ServiceSpec(
    name="db",
    image="mysql:5.7",
    environment=(("MYSQL_DATABASE", "shop"), ("MYSQL_ROOT_PASSWORD", "hunter2")),
    sensitive_env=frozenset({"MYSQL_ROOT_PASSWORD"}),
    ports=(PortSpec(3306, host_ip="127.0.0.1", published=3307),),
    mounts=(Mount(MountType.VOLUME, "/var/lib/mysql", "data"),),
)
WEB = ServiceSpec(
    name="web", image="web:1", depends_on=(Dependency("db", Condition.HEALTHY),), replicas=2
)


def desired(*services: ServiceSpec, volumes: tuple[VolumeSpec, ...] = ()) -> DesiredState:
    return DesiredState(
        "shop", "dev", None, services, volumes, sensitive_values=frozenset(), secret_key=KEY
    )


def seen(
    spec: ServiceSpec,
    n: int = 1,
    *,
    state: str = "running",
    exit_code: int | None = None,
    image_id: str | None = None,
    project: str = P,
    name: str | None = None,
    recorded: dict[str, object] | None = None,
    secrets: Secrets = KEYED,
) -> ObservedContainer:
    """What the engine reports for a container envkit made from ``spec``."""
    return ObservedContainer(
        id=f"id-{spec.name}-{n}",
        name=name or f"{project}-{spec.name}-{n}",
        project=project,
        service=spec.name,
        replica=n,
        spec_hash=spec_hash(spec, secrets),
        spec=json.loads(json.dumps(canonical_spec(spec, secrets), sort_keys=True))
        if recorded is None
        else recorded,
        image_id=image_id or IMG.get(spec.image) or "sha256:none",
        state=state,
        exit_code=exit_code,
    )


def world(
    *containers: ObservedContainer,
    network: bool = True,
    volumes: tuple[str, ...] = (),
    images: dict[str, str | None] | None = None,
    **extra: object,
) -> ObservedState:
    return ObservedState(
        project=P,
        containers=containers,
        networks=(ObservedNetwork("n1", P),) if network else (),
        volumes=tuple(ObservedVolume(v) for v in volumes),
        images=IMG if images is None else images,
        **extra,  # type: ignore[arg-type]
    )


def diff_text(d: FieldDiff) -> str:
    return f"{d.path}: {show_value(d.before)} -> {show_value(d.after)}"


def rows(p: Plan) -> list[tuple[str, str, tuple[str, ...]]]:
    """(action, name, changed fields as ``path: before -> after`` then the other reasons)."""
    return [(c.action.name, c.name, (*map(diff_text, c.diffs), *c.reasons)) for c in p.changes]

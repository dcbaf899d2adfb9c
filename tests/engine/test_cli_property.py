"""The reconciler's convergence property against the real engine, through the CLI: for
random pairs of small stacks A -> B, ``up A`` then ``up B`` leaves exactly B's containers
(names and spec hashes), and ``plan B`` then has nothing to do."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envkit.canonical import spec_hash
from envkit.model import LABEL, container_name
from envkit.stackfile.pipeline import read, resolve

from .conftest import StackFile, busybox, free_port

pytestmark = pytest.mark.engine

NAMES = ("s0", "s1", "s2")


@dataclass(frozen=True)
class Svc:
    name: str
    value: str
    replicas: int
    port: int | None  # an index into the example's pool of free host ports
    volume: bool
    depends_on: str | None


@st.composite
def stacks(draw: Any) -> tuple[Svc, ...]:
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    names.sort()
    ports = draw(st.permutations([0, 1, 2]))
    out = []
    for i, name in enumerate(names):
        out.append(
            Svc(
                name=name,
                value=draw(st.sampled_from(["a", "b", "x y", "1"])),
                replicas=draw(st.integers(1, 2)),
                # a host port only with one replica (replicas cannot share one)
                port=ports[i] if draw(st.booleans()) else None,
                volume=draw(st.booleans()),
                depends_on=draw(st.sampled_from([None, *names[:i]])),
            )
        )
    return tuple(out)


def stack_yaml(services: tuple[Svc, ...], pool: list[int]) -> str:
    body = "environments: {e: {}}\nservices:\n"
    for s in services:
        extra = [f"environment: {{VALUE: {json.dumps(s.value)}}}"]
        extra.append(f"replicas: {1 if s.port is not None else s.replicas}")
        if s.port is not None:
            extra.append(f"ports: ['127.0.0.1:{pool[s.port]}:80']")
        if s.volume:
            extra.append("volumes: ['data:/data']")
        if s.depends_on:
            extra.append(f"depends_on: [{s.depends_on}]")
        body += busybox(s.name, extra="\n".join(extra))
    return body + "volumes:\n  data: {}\n"


def expected(path: Path) -> dict[str, str]:
    """Container name -> spec hash, as B wants it."""
    desired = resolve(read(path), "e").desired
    return {
        container_name(desired.project, s.name, n): spec_hash(s)
        for s in desired.services
        for n in range(1, s.replicas + 1)
    }


@settings(
    max_examples=int(os.environ.get("ENVKIT_PROPERTY_EXAMPLES", "6")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(a=stacks(), b=stacks())
def test_up_a_then_up_b_converges_to_b(
    a: tuple[Svc, ...], b: tuple[Svc, ...], docker_client: Any, tmp_path_factory: Any
) -> None:
    stack = StackFile(
        name=f"t{uuid.uuid4().hex[:8]}",
        dir=tmp_path_factory.mktemp("prop"),
        client=docker_client,
    )
    pool = [free_port() for _ in range(3)]
    try:
        stack.write(stack_yaml(a, pool))
        first = stack.cli("up", "e")
        assert first.code == 0, first.err
        stack.write(stack_yaml(b, pool))
        second = stack.cli("up", "e")
        assert second.code == 0, second.err
        plan = stack.cli("plan", "e", "--detailed-exitcode")
        assert plan.code == 0, plan.out + plan.err
        found = {c.name: c.labels[LABEL.SPEC_HASH] for c in stack.containers("e").values()}
        assert found == expected(stack.path)
        assert all(c.status == "running" for c in stack.containers("e").values())
    finally:
        stack.cleanup()

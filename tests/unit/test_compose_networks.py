"""Compose networks: reading them, checking them, and what the planner makes of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from envkit.engine.fake import FakeEngine
from envkit.errors import StackError
from envkit.model import ServiceNetwork
from envkit.reconcile.changes import Action
from envkit.reconcile.plan import ResourceKind, plan
from envkit.reconcile.verbs import up
from envkit.stackfile import read, resolve

IMAGE = "envkit-test/busybox:latest"

COMPOSE = f"""\
services:
  web:
    image: {IMAGE}
    networks:
      front: {{aliases: [www]}}
      back:
    links: ["db:database"]
  db:
    image: {IMAGE}
    networks: [back]
  side:
    image: {IMAGE}
    network_mode: service:db
  plain:
    image: {IMAGE}
networks:
  front: {{}}
  back:
    internal: true
    ipam: {{config: [{{subnet: 172.28.0.0/16, gateway: 172.28.0.1}}]}}
  unused: {{}}
"""


def desired_of(tmp_path: Path, text: str, instance: str | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return resolve(read(path), "default", environ={}, instance=instance).desired


def problems(tmp_path: Path, text: str, instance: str | None = None) -> list[tuple[str, str]]:
    with pytest.raises(StackError) as caught:
        desired_of(tmp_path, text, instance)
    return [(d.code, str(d.origin).rsplit("/", 1)[-1]) for d in caught.value.diagnostics]


def test_services_networks_modes_and_links_are_read(tmp_path: Path) -> None:
    desired = desired_of(tmp_path, COMPOSE)
    web, db, side, plain = desired.services
    assert web.networks == (ServiceNetwork("front", ("www",)), ServiceNetwork("back"))
    assert web.links == (("db", "database"),)
    assert [d.service for d in web.depends_on] == ["db"]  # a link implies the dependency
    assert db.networks == (ServiceNetwork("back"),)
    assert (side.network_mode, [d.service for d in side.depends_on]) == ("service:db", ["db"])
    assert (plain.networks, plain.network_mode) == ((), None)
    back = next(n for n in desired.networks if n.name == "back")
    assert (back.internal, back.ipam_config) == (True, (("172.28.0.0/16", "", "172.28.0.1"),))
    # The default network first, then the declared ones a service joins ('unused' is not).
    assert [desired.network_name(n.name) for n in desired.network_specs()] == [
        desired.project,
        f"{desired.project}_front",
        f"{desired.project}_back",
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("networks: [back]", "networks: [nowhere]"), ("unknown-network", "compose.yaml:10:16")),
        (
            ("network_mode: service:db", "network_mode: service:nope"),
            ("invalid-network-mode", "compose.yaml:13:19"),
        ),
        (
            ("network_mode: service:db", "network_mode: service:db\n    networks: [front]"),
            ("network-mode-and-networks", "compose.yaml:13:19"),
        ),
        (('links: ["db:database"]', 'links: ["nope"]'), ("unknown-service", "compose.yaml:7:13")),
        (("  front: {}", "  front: {name: fixed}"), ("network-name", "compose.yaml:17:17")),
    ],
)
def test_network_mistakes_are_located(
    tmp_path: Path, change: tuple[str, str], expected: tuple[str, str]
) -> None:
    assert problems(tmp_path, COMPOSE.replace(*change)) == [expected]


def test_a_fixed_subnet_is_refused_for_instances(tmp_path: Path) -> None:
    assert problems(tmp_path, COMPOSE, instance="ci1") == [("fixed-subnet", "compose.yaml:20:11")]


def test_plan_creates_each_network_once_and_up_converges(tmp_path: Path) -> None:
    desired = desired_of(tmp_path, COMPOSE)
    engine = FakeEngine(images={IMAGE: "sha256:" + "1" * 64})
    first = plan(desired, engine.observe(desired))
    created = [c.name for c in first.changes if c.kind is ResourceKind.NETWORK]
    assert created == [desired.project, f"{desired.project}_front", f"{desired.project}_back"]
    up(desired, engine)
    again = plan(desired, engine.observe(desired))
    assert not again.has_changes
    assert all(c.action is Action.NOOP for c in again.changes)


def test_an_external_network_must_exist(tmp_path: Path) -> None:
    text = f"services:\n  a: {{image: {IMAGE}, networks: [ext]}}\n" + (
        "networks:\n  ext: {external: true, name: shared-net}\n"
    )
    desired = desired_of(tmp_path, text)
    engine = FakeEngine(images={IMAGE: "sha256:" + "1" * 64})
    (conflict,) = plan(desired, engine.observe(desired)).conflicts
    assert (conflict.code, conflict.message) == (
        "network-missing",
        "external network shared-net (networks.ext) does not exist",
    )
    engine.networks["shared-net"] = {}
    assert plan(desired, engine.observe(desired)).conflicts == ()

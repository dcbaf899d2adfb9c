"""down removes the network even when the engine keeps endpoints of removed containers,
and otherwise says exactly what is left and how to finish."""

from __future__ import annotations

import pytest

from envkit.canonical import container_labels, project_labels
from envkit.engine.fake import FakeEngine
from envkit.errors import EngineError
from envkit.model import DesiredState, ServiceSpec
from envkit.progress import NullReporter
from envkit.reconcile.teardown import ENDPOINT_WAITS_S, remove_instance

WEB = ServiceSpec("web", "web:1")
DEV = DesiredState("shop", "dev", None, (WEB,))


def provisioned() -> FakeEngine:
    engine = FakeEngine(images={"web:1": "sha256:" + "b" * 64})
    engine.create_network(DEV.network, project_labels(DEV))
    engine.start_container(engine.create_container(DEV, WEB, 1, container_labels(DEV, WEB, 1)))
    return engine


class Released:
    """A sleep that lets the engine release the stale endpoint after ``after`` pauses."""

    def __init__(self, engine: FakeEngine, after: int) -> None:
        self.engine, self.after = engine, after
        self.pauses: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.pauses.append(seconds)
        if len(self.pauses) == self.after:
            self.engine.endpoints[DEV.network].clear()


def test_waits_for_the_engine_to_release_an_endpoint() -> None:
    engine = provisioned()
    engine.endpoints[DEV.network] = {"shop-dev-web-1": False}
    sleep = Released(engine, after=2)
    result = remove_instance(DEV, engine, reporter=NullReporter(), sleep=sleep)
    assert result.networks == (DEV.network,)
    assert sleep.pauses == list(ENDPOINT_WAITS_S[:2])
    assert ("disconnect_network", f"shop-dev-web-1 from {DEV.network}") not in engine.calls


def test_force_disconnects_a_stale_endpoint_that_is_never_released() -> None:
    engine = provisioned()
    engine.endpoints[DEV.network] = {"shop-dev-web-1": False}
    sleep = Released(engine, after=99)
    result = remove_instance(DEV, engine, reporter=NullReporter(), sleep=sleep)
    assert result.networks == (DEV.network,)
    assert sleep.pauses == list(ENDPOINT_WAITS_S)  # bounded: 7.5 s in all
    assert ("disconnect_network", f"shop-dev-web-1 from {DEV.network}") in engine.calls
    assert DEV.network not in engine.networks


def test_a_live_foreign_container_is_never_disconnected_and_the_error_says_what_is_left() -> None:
    engine = provisioned()
    engine.endpoints[DEV.network] = {"someones-debug-shell": True}
    sleep = Released(engine, after=99)
    with pytest.raises(EngineError) as caught:
        remove_instance(DEV, engine, reporter=NullReporter(), sleep=sleep)
    err = caught.value
    assert err.code == "network-in-use"
    assert "someones-debug-shell (a container)" in err.message
    assert "only this network is left" in err.message
    assert f"docker network disconnect --force {DEV.network} someones-debug-shell" in (
        err.hint or ""
    )
    assert sleep.pauses == []  # waiting would not free it
    assert not [c for c in engine.calls if c[0] == "disconnect_network"]
    assert engine.container("shop-dev-web-1") is None  # the containers went first
    # once it is disconnected, a second down finishes
    engine.endpoints[DEV.network].clear()
    assert remove_instance(DEV, engine, reporter=NullReporter()).networks == (DEV.network,)


def test_down_lists_only_the_instance_by_its_label() -> None:
    """No full observe (every container, network and volume on the engine): the engine's
    label filter lists the instance's objects; another instance's stay untouched."""
    engine = provisioned()
    other = DesiredState("shop", "prod", None, (WEB,))
    engine.create_network(other.network, project_labels(other))
    kept = engine.create_container(other, WEB, 1, container_labels(other, WEB, 1))
    engine.calls.clear()
    result = remove_instance(DEV.project, engine, reporter=NullReporter())
    assert result.containers == ("shop-dev-web-1",)
    assert result.networks == (DEV.network,)
    assert kept in engine.containers and other.network in engine.networks
    lists = [c for c in engine.calls if c[0].startswith(("observe", "list_"))]
    only = '{"io.envkit.project": "shop-dev"}'
    assert lists == [("list_containers", only), ("list_networks", only), ("list_volumes", only)]

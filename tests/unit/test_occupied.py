"""Names and host ports that someone other than the project holds, over observed values
(parsed from recorded daemon JSON, see test_docker_json), with a stand-in host probe."""

from __future__ import annotations

from test_docker_json import WEB

from envkit.engine.base import (
    ObservedContainer,
    ObservedNetwork,
    ObservedVolume,
    PortHolder,
    PortUse,
)
from envkit.engine.docker_json import parse_container
from envkit.engine.occupied import foreign_names, ports_in_use
from envkit.model import DesiredState, PortSpec, ServiceSpec, VolumeSpec

DESIRED = DesiredState(
    "s",
    "e",
    None,
    (
        ServiceSpec(
            "web",
            "busybox",
            replicas=2,
            ports=(
                PortSpec(8080, host_ip="127.0.0.1", published=34639),  # another's container
                PortSpec(53, "udp", published=32768),  # the same, on all addresses
                PortSpec(80, published=8000),  # the project's own
                PortSpec(81, published=8001),  # a process on the host
                PortSpec(82),  # random host port: never in use
            ),
        ),
    ),
    volumes=(VolumeSpec("data"), VolumeSpec("shared", external=True)),
)


def _container(name: str, project: str, ports: list[dict[str, object]]) -> ObservedContainer:
    labels = {"io.envkit.project": project} if project else {}
    return parse_container(dict(WEB, Names=[f"/{name}"], Labels=labels, Ports=ports))


def test_ports_held_by_other_containers_and_the_host() -> None:
    own = [_container("s-e-web-1", "s-e", [{"IP": "", "PublicPort": 8000, "PrivatePort": 80}])]
    others = [parse_container(WEB)]
    probed: list[tuple[str, int, str]] = []

    def probe(host_ip: str, port: int, proto: str) -> bool:
        probed.append((host_ip, port, proto))
        return port == 8001

    found = ports_in_use(DESIRED, own, others, probe)
    assert found == (
        PortUse("", 8001, "tcp", PortHolder.HOST_PROCESS),
        PortUse("", 32768, "udp", PortHolder.CONTAINER, "capjson-web-1", "capjson"),
        PortUse("127.0.0.1", 34639, "tcp", PortHolder.CONTAINER, "capjson-web-1", "capjson"),
    )
    assert probed == [("", 8001, "tcp")]  # own and container-held ports are not probed
    # a remote engine: no probe, and an unlabelled holder is named as such
    unmanaged = [_container("x", "", WEB["Ports"])]
    assert [(u.container, u.project) for u in ports_in_use(DESIRED, own, unmanaged, None)] == [
        ("x", ""),
        ("x", ""),
    ]


def test_foreign_names() -> None:
    others = [_container("s-e-web-2", "other", []), _container("s-e-web-3", "", [])]
    networks = [ObservedNetwork("n1", "s-e"), ObservedNetwork("n2", "x")]
    volumes = [
        ObservedVolume("s-e_data", {"io.envkit.project": "other"}),
        ObservedVolume("shared"),  # external: expected to exist without labels
    ]
    assert foreign_names(DESIRED, others, networks, volumes) == {
        "s-e-web-2": "container",
        "s-e": "network",
        "s-e_data": "volume",
    }
    own_network = [ObservedNetwork("n1", "s-e", {"io.envkit.project": "s-e"})]
    assert foreign_names(DESIRED, [], own_network, []) == {}


def test_a_host_range_is_probed_up_to_its_first_free_port() -> None:
    ranged = DesiredState(
        "s", "e", None,
        (ServiceSpec("web", "busybox", ports=(PortSpec(80, published=9000, published_last=9009),)),),
    )  # fmt: skip
    probed: list[int] = []

    def probe(host_ip: str, port: int, proto: str) -> bool:
        probed.append(port)
        return port < 9002

    found = ports_in_use(ranged, [], [], probe)
    assert found == tuple(PortUse("", p, "tcp", PortHolder.HOST_PROCESS) for p in (9000, 9001))
    assert probed == [9000, 9001, 9002]  # the engine will bind 9002: no need to look further

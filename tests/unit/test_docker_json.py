"""The engine's JSON read into observed values: recorded daemon answers (Docker 20.10,
API through the SDK's ``APIClient``, trimmed of fields envkit does not read) replayed
through ``envkit.engine.docker_json``, no engine needed."""

from __future__ import annotations

from typing import Any

import pytest

from envkit.engine.base import ContainerStatus, ImageInfo, PortBinding
from envkit.engine.docker_json import (
    exit_code_from_status,
    health_from_status,
    image_ids,
    label_filters,
    normalize_ref,
    parse_container,
    parse_image_info,
    parse_network,
    parse_status,
    parse_volume,
    split_tag,
)

IMAGE_ID = "sha256:bccdc428d03b0b9fa9d8bca86c9f9eb3d3a2d93bc564457d781c612e7d81a19b"

# api.containers(all=True): a running container with a passing healthcheck, one published
# udp port on all addresses and one tcp port on loopback
WEB: dict[str, Any] = {
    "Id": "edb84155b844cc63e654c1b13416e821390efa401494894ce59ec794524a0899",
    "Names": ["/capjson-web-1"],
    "Image": "envkit-test/busybox:latest",
    "ImageID": IMAGE_ID,
    "Command": "sleep 300",
    "Created": 1795945280,
    "Ports": [
        {"IP": "0.0.0.0", "PrivatePort": 53, "PublicPort": 32768, "Type": "udp"},
        {"IP": "127.0.0.1", "PrivatePort": 8080, "PublicPort": 34639, "Type": "tcp"},
        {"PrivatePort": 9000, "Type": "tcp"},
    ],
    "Labels": {
        "io.envkit.project": "capjson",
        "io.envkit.replica": "1",
        "io.envkit.service": "web",
        "io.envkit.spec-hash": "abc",
        "io.envkit.spec": '{"image": "envkit-test/busybox:latest"}',
    },
    "State": "running",
    "Status": "Up 7 seconds (healthy)",
    "HostConfig": {"NetworkMode": "capjson"},
}

# a one-shot container that exited 3, without envkit's spec label
JOB: dict[str, Any] = {
    "Id": "6ec15477138f13098b49cd06dbd32e8d70a247531bbdfd7c109d9c3755a2ff38",
    "Names": ["/capjson-job-1"],
    "Image": "envkit-test/busybox:latest",
    "ImageID": IMAGE_ID,
    "Created": 1795945288,
    "Ports": [],
    "Labels": {
        "io.envkit.project": "capjson",
        "io.envkit.replica": "1",
        "io.envkit.service": "job",
    },
    "State": "exited",
    "Status": "Exited (3) 5 seconds ago",
}

# api.inspect_container(...)["State"] of the two
WEB_STATE: dict[str, Any] = {
    "Status": "running",
    "Running": True,
    "ExitCode": 0,
    "Health": {
        "Status": "healthy",
        "FailingStreak": 0,
        "Log": [
            {"Start": "2026-11-29T09:41:29.13Z", "ExitCode": 0, "Output": ""},
            {"Start": "2026-11-29T09:41:30.79Z", "ExitCode": 1, "Output": "refused\n"},
            {"Start": "2026-11-29T09:41:31.79Z", "ExitCode": 1, "Output": "refused\n"},
            {"Start": "2026-11-29T09:41:32.79Z", "ExitCode": 1, "Output": "refused\n"},
            {"Start": "2026-11-29T09:41:33.57Z", "ExitCode": 0, "Output": "  ok  "},
            {"Start": "2026-11-29T09:41:34.57Z", "ExitCode": 0, "Output": ""},
        ],
    },
}
JOB_STATE: dict[str, Any] = {
    "Status": "exited",
    "Running": False,
    "ExitCode": 3,
    "StartedAt": "2026-11-29T09:41:29.98984776Z",
}

NETWORK: dict[str, Any] = {
    "Name": "capjson",
    "Id": "62449b290689e2da4aaeb0911d5deaa5596b9fe31b6935649aac8d0f19b5fcf6",
    "Created": "2026-11-29T09:41:13.671220851Z",
    "Scope": "local",
    "Driver": "bridge",
    "Containers": {},
    "Labels": {"io.envkit.project": "capjson"},
}

# api.volumes()["Volumes"][0]; "Labels" is null for a volume made without labels
VOLUME: dict[str, Any] = {
    "CreatedAt": "2026-11-29T09:41:20Z",
    "Driver": "local",
    "Labels": {"io.envkit.project": "capjson"},
    "Mountpoint": "/var/lib/docker/volumes/capjson_data/_data",
    "Name": "capjson_data",
    "Options": None,
    "Scope": "local",
}

# api.images() entry and api.inspect_image(...) of the same image
IMAGE: dict[str, Any] = {
    "Containers": -1,
    "Created": 1795941078,
    "Id": IMAGE_ID,
    "Labels": None,
    "RepoDigests": [
        "127.0.0.1:33559/t682daf38/app@sha256:d9f1141902b90d054ba60ff3064698b2101b706a7a8e1eece325834a37b9ab74"
    ],
    "RepoTags": ["envkit-bench/busybox:instances", "envkit-test/busybox:latest"],
    "Size": 1985581,
}
HUB_IMAGE: dict[str, Any] = {
    "Id": "sha256:" + "1" * 64,
    "RepoDigests": ["busybox@sha256:" + "2" * 64],
    "RepoTags": ["busybox:latest"],
}


def test_running_container_with_health_and_ports() -> None:
    c = parse_container(WEB)
    assert (c.id, c.name, c.project, c.service, c.replica) == (
        WEB["Id"],
        "capjson-web-1",
        "capjson",
        "web",
        1,
    )
    assert (c.spec_hash, c.spec) == ("abc", {"image": "envkit-test/busybox:latest"})
    assert (c.image_id, c.state, c.health, c.exit_code) == (IMAGE_ID, "running", "healthy", None)
    # only published ports, sorted by target; an exposed-only port is not a binding
    assert c.ports == (
        PortBinding(target=53, protocol="udp", host_ip="0.0.0.0", host_port=32768),
        PortBinding(target=8080, protocol="tcp", host_ip="127.0.0.1", host_port=34639),
    )
    assert c.created == "2026-11-29T09:41:20Z"
    assert c.labels["io.envkit.spec-hash"] == "abc"


def test_exited_container_carries_its_exit_code() -> None:
    c = parse_container(JOB)
    assert (c.state, c.health, c.exit_code, c.ports) == ("exited", None, 3, ())
    assert (c.spec_hash, c.spec) == ("", {})  # no spec labels: not an error


def test_corrupt_or_missing_labels_read_as_empty() -> None:
    raw = dict(JOB, Labels={"io.envkit.spec": "{not json", "io.envkit.replica": "x"})
    c = parse_container(raw)
    assert (c.spec, c.replica, c.project, c.service) == ({}, 0, "", "")
    bare = parse_container({"Id": "abc", "Labels": None, "Names": None})
    assert (bare.id, bare.name, bare.labels, bare.state, bare.created) == ("abc", "", {}, "", "")
    listed = parse_container(dict(JOB, Labels={"io.envkit.spec": "[1, 2]"}))
    assert listed.spec == {}  # only an object counts as a spec


@pytest.mark.parametrize(
    ("status", "health", "exit_code"),
    [
        ("Up 7 seconds (healthy)", "healthy", None),
        ("Up 2 minutes (unhealthy)", "unhealthy", None),
        ("Up 1 second (health: starting)", "starting", None),
        ("Up 3 hours", None, None),
        ("Exited (0) 5 minutes ago", None, 0),
        ("Exited (137) About a minute ago", None, 137),
        ("Exited (-1) 2 days ago", None, -1),
        ("Created", None, None),
        ("Restarting (1) 3 seconds ago", None, None),
        ("", None, None),
    ],
)
def test_health_and_exit_code_from_status_text(
    status: str, health: str | None, exit_code: int | None
) -> None:
    assert health_from_status(status) == health
    assert exit_code_from_status(status) == exit_code


def test_status_from_inspect() -> None:
    web = parse_status({"Id": WEB["Id"], "State": WEB_STATE})
    assert web == ContainerStatus(
        state="running",
        health="healthy",
        exit_code=None,  # ExitCode 0 of a running container is no exit code
        health_log=(
            "exit 1: refused",
            "exit 1: refused",
            "exit 1: refused",
            "exit 0: ok",
            "exit 0: ",
        ),  # the last five probes, outputs stripped
    )
    job = parse_status({"Id": JOB["Id"], "State": JOB_STATE})
    assert job == ContainerStatus(state="exited", health=None, exit_code=3)
    assert parse_status({}) == ContainerStatus(state="unknown", health=None, exit_code=None)


def test_networks_and_volumes() -> None:
    n = parse_network(NETWORK)
    assert (n.id, n.name, n.created) == (NETWORK["Id"], "capjson", NETWORK["Created"])
    assert n.labels == {"io.envkit.project": "capjson"}
    v = parse_volume(VOLUME)
    assert (v.name, v.labels, v.created) == ("capjson_data", VOLUME["Labels"], VOLUME["CreatedAt"])
    assert parse_volume(dict(VOLUME, Labels=None)).labels == {}


def test_image_info_from_inspect() -> None:
    assert parse_image_info(IMAGE) == ImageInfo(
        id=IMAGE_ID,
        tags=("envkit-bench/busybox:instances", "envkit-test/busybox:latest"),
        size=1985581,
    )
    dangling = parse_image_info({"Id": "sha256:ab", "RepoTags": None, "Size": None})
    assert dangling == ImageInfo(id="sha256:ab", tags=(), size=0)


def test_image_ids_match_tags_digests_ids_and_hub_spellings() -> None:
    found = image_ids(
        [IMAGE, HUB_IMAGE],
        {
            "envkit-test/busybox:latest",
            "envkit-test/busybox",
            "busybox",
            "docker.io/library/busybox:latest",
            "busybox@sha256:" + "2" * 64,
            IMAGE_ID,
            "envkit-test/absent:1",
        },
    )
    assert found == {
        "busybox": HUB_IMAGE["Id"],
        "busybox@sha256:" + "2" * 64: HUB_IMAGE["Id"],
        "docker.io/library/busybox:latest": HUB_IMAGE["Id"],
        "envkit-test/absent:1": None,
        "envkit-test/busybox": IMAGE_ID,
        "envkit-test/busybox:latest": IMAGE_ID,
        IMAGE_ID: IMAGE_ID,
    }
    assert list(found) == sorted(found)


@pytest.mark.parametrize(
    ("ref", "split", "normal"),
    [
        ("busybox", ("busybox", "latest"), "busybox:latest"),
        ("docker.io/library/busybox:1.36", ("docker.io/library/busybox", "1.36"), "busybox:1.36"),
        (
            "index.docker.io/library/redis",
            ("index.docker.io/library/redis", "latest"),
            "redis:latest",
        ),
        ("docker.io/envkit/mariadb:10", ("docker.io/envkit/mariadb", "10"), "envkit/mariadb:10"),
        ("127.0.0.1:5000/app", ("127.0.0.1:5000/app", "latest"), "127.0.0.1:5000/app:latest"),
        ("127.0.0.1:5000/app:2", ("127.0.0.1:5000/app", "2"), "127.0.0.1:5000/app:2"),
        ("app@sha256:abc", ("app", "sha256:abc"), "app@sha256:abc"),
        ("sha256:abc", ("sha256", "abc"), "sha256:abc"),
    ],
)
def test_image_references(ref: str, split: tuple[str, str], normal: str) -> None:
    assert split_tag(ref) == split
    assert normalize_ref(ref) == normal


def test_label_filters() -> None:
    assert label_filters({"io.envkit.project": "p", "io.envkit.stack": None}) == {
        "label": ["io.envkit.project=p", "io.envkit.stack"]
    }

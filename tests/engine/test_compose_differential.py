"""The same Compose files through docker-compose 1.29.2 and envkit on the real engine,
their containers' ``docker inspect`` compared field by field.

Each case is a small Compose file (the busybox test image, ports on 127.0.0.1 at free
ports) in its own folder ``d<8 hex>``: ``docker-compose -p c<hex> up -d`` is inspected and
taken down (``down -v``), then ``envkit up`` is inspected and taken down; both are removed
by label whatever happens. :func:`facts` reduces an inspect to what the file decides,
normalising what legitimately differs: container names and hostnames (Compose
``P_web_1``, envkit ``{stack}-default-web-1``, hostname = the container id), the
``com.docker.compose.*`` and ``io.envkit.*`` labels, the project prefix of network and
volume names (Compose's default network ``P_default``, envkit's ``{project}``), the names
of anonymous volumes (random), and the container's own id/name among its network aliases.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from envkit.model import LABEL

from .cleanup import remove_labelled
from .conftest import IMAGE, free_port
from .images_support import envkit

pytestmark = pytest.mark.engine

COMPOSE_PROJECT = "com.docker.compose.project"
SLEEP = 'command: [sh, -c, "sleep 3600"]\n    init: true\n    stop_grace_period: 1s'


def _svc(name: str, extra: str = "", command: str = SLEEP) -> str:
    body = f"  {name}:\n    image: {IMAGE}\n    {command}\n"
    return body + "".join(f"    {line}\n" for line in extra.strip("\n").splitlines())


# case -> (files in the folder, the Compose file); {p1} {p2} are free ports
CASES: dict[str, tuple[dict[str, str], str]] = {
    "ports": (
        {},
        "services:\n"
        + _svc(
            "web",
            'ports: ["127.0.0.1:{p1}:80", "127.0.0.1::81/udp",\n'
            "        {target: 82, published: {p2}, protocol: tcp}]",
        ),
    ),
    "ipv6-host-address": ({}, "services:\n" + _svc("web", 'ports: ["[::1]:{p1}:80"]')),
    "ipv6-unbracketed": ({}, "services:\n" + _svc("web", 'ports: ["::1:{p1}:80"]')),
    # a host range for one container port: both send the range, the engine binds one of it
    "port-range": (
        {},
        "services:\n" + _svc("web", 'ports: ["127.0.0.1:{r1}:80", "[::1]:{r2}:81/udp"]'),
    ),
    "missing-bind-folder": ({}, "services:\n" + _svc("web", "volumes: [./missing:/missing]")),
    "environment-interpolation": (
        {".env": "GREETING=hello\nEMPTY=\n", "app.env": "FROM_FILE=x\nPLAIN=a b\n"},
        "services:\n"
        + _svc(
            "web",
            "environment:\n  A: ${GREETING}\n  B: ${MISSING:-fallback}\n  C: $${GREETING}\n"
            "  D: ${EMPTY-unset}\nenv_file: [app.env]",
        ),
    ),
    # ${VAR} in a service's env_file, where 1.29.2 (python-dotenv) and compose-go agree:
    # braces, defaults, double quotes, the file's own earlier values, single-quoted text
    "env-file-interpolation": (
        {
            "app.env": 'A=hello\nB="${A} world"\nC=${A}-x\nD=${NOPE_X:-def}\n'
            "E='plain text'\nF=${A:-unused}\n"
        },
        "services:\n" + _svc("web", "env_file: [app.env]"),
    ),
    "volumes": (
        {"conf/app.conf": "x=1\n"},
        "services:\n"
        + _svc(
            "web",
            "volumes:\n  - data:/data\n  - /anon\n  - ./conf:/etc/conf:ro\n"
            "  - {type: volume, source: data, target: /long, read_only: true}",
        )
        + "volumes:\n  data: {labels: {team: shop}}\n",
    ),
    # Compose keeps the case of service and volume names; the short syntax's modes and the
    # long form's options reach the engine (issue 9, section 3)
    "mount-options": (
        {"conf/app.conf": "x=1\n"},
        "services:\n"
        + _svc(
            "Web",
            "volumes:\n  - Data:/data:nocopy\n  - ./conf:/etc/conf:ro,z\n"
            "  - ./conf:/etc/c2:rprivate\n"
            "  - {type: volume, source: Data, target: /long, volume: {nocopy: true}}\n"
            "  - {type: bind, source: ./conf, target: /c3, bind: {propagation: private}}\n"
            "  - {type: tmpfs, target: /t, tmpfs: {size: 1048576}}",
        )
        + "volumes:\n  Data: {}\n",
    ),
    # build: keys docker-compose 1.29.2 knows, on the classic builder; the built image's
    # labels show on the container (image: names a tag of this test only)
    "build-options": (
        {"ctx/Dockerfile": f"FROM {IMAGE}\nRUN grep myhost /etc/hosts > /hosts.txt\n"},
        "services:\n  web:\n    image: envkit-test/built-{hex}:1\n"
        '    command: [sh, -c, "sleep 3600"]\n    init: true\n    stop_grace_period: 1s\n'
        "    build:\n      context: ./ctx\n      labels: {team: shop}\n      network: host\n"
        "      shm_size: 64m\n      extra_hosts: ['myhost:10.1.2.3']\n"
        f"      cache_from: [{IMAGE}]\n",
    ),
    "networks-aliases": (
        {},
        "services:\n"
        + _svc("web", "networks:\n  front: {aliases: [www, site]}\n  back:")
        + _svc("db", "networks: [back]")
        + "networks:\n  front: {labels: {tier: front}}\n  back: {internal: true}\n",
    ),
    "secrets-configs": (
        {"token.txt": "t0ken\n", "app.conf": "x=1\n"},
        "services:\n"
        + _svc("web", "secrets: [token, {source: token, target: other}]\nconfigs: [appconf]")
        + "secrets:\n  token: {file: ./token.txt}\nconfigs:\n  appconf: {file: ./app.conf}\n",
    ),
    "healthcheck": (
        {},
        "services:\n"
        + _svc(
            "web",
            'healthcheck:\n  test: [CMD, "true"]\n  interval: 1s\n  timeout: 2s\n'
            "  retries: 3\n  start_period: 1m30s",
        )
        + _svc("quiet", "healthcheck: {disable: true}"),
    ),
    "depends-on": (
        {},
        "services:\n"
        + _svc("db", 'healthcheck: {test: "true", interval: 1s}')
        + _svc("web", "depends_on:\n  db: {condition: service_healthy}"),
    ),
    "restart": (
        {},
        "services:\n"
        + _svc("a", "restart: always")
        + _svc("b", "restart: unless-stopped")
        + _svc("c", 'restart: "on-failure:3"'),
    ),
    "deploy-resources": (
        {},
        "services:\n"
        + _svc("web", "mem_limit: 64m\ncpus: 0.5")
        + _svc("api", "deploy: {resources: {limits: {cpus: '0.25', memory: 32m}}}"),
    ),
    "container-options": (
        {},
        "services:\n"
        + _svc(
            "web",
            "user: '1000:1000'\nworking_dir: /tmp\nhostname: box\ndomainname: example.org\n"
            "extra_hosts: ['db.local:10.0.0.2']\ncap_add: [NET_ADMIN]\ncap_drop: [MKNOD]\n"
            "stop_signal: SIGUSR1\ntty: true\nstdin_open: true\nread_only: true\n"
            "shm_size: 16m\npids_limit: 50\noom_score_adj: 100\n"
            "sysctls: {net.core.somaxconn: '1024'}\nulimits: {nofile: {soft: 1024, hard: 2048}}\n"
            "dns: [10.0.0.53]\ndns_search: [example.org]\nsecurity_opt: ['no-new-privileges:true']\n"
            "group_add: ['100']\nlogging: {driver: json-file, options: {max-size: 1m}}",
        ),
    ),
    "extends": (
        {},
        "services:\n"
        + _svc("base", "environment: {A: '1'}\nlabels: {tier: base}")
        + "  web:\n    extends: base\n    environment: {B: '2'}\n",
    ),
    "profiles": (
        {},
        "services:\n" + _svc("web") + _svc("debug", "profiles: [debug]"),
    ),
    "container-name-expose": (
        {},
        "services:\n" + _svc("web", "container_name: fixed-{hex}\nexpose: ['8080', '53/udp']"),
    ),
    "tmpfs": (
        {},
        "services:\n"
        + _svc(
            "web",
            "tmpfs: [/run, '/cache:size=1m']\nvolumes:\n  - {type: tmpfs, target: /scratch}",
        ),
    ),
    "labels-entrypoint": (
        {},
        "services:\n"
        + _svc(
            "web",
            'labels: {traefik.rule: "Host(`{{{{ .Name }}}}`)", plain: ""}',
            command='entrypoint: [sh, -c]\n    command: ["sleep 3600"]\n    init: true\n'
            "    stop_grace_period: 1s",
        ),
    ),
}


@dataclass
class Folder:
    path: Path
    hex: str

    @property
    def stack(self) -> str:
        return self.path.name

    @property
    def envkit_project(self) -> str:
        return f"{self.stack}-default"

    @property
    def compose_project(self) -> str:
        return f"c{self.hex}"


@pytest.fixture
def folder(docker_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Folder]:
    hex_ = uuid.uuid4().hex[:8]
    path = tmp_path / f"d{hex_}"
    path.mkdir()
    monkeypatch.chdir(path)
    monkeypatch.delenv("ENVKIT_FILE", raising=False)
    f = Folder(path, hex_)
    try:
        yield f
    finally:
        _compose(f, "down", "-v", "-t", "1", check=False)
        remove_labelled(
            docker_client, f"{LABEL.STACK}={f.stack}", f"{COMPOSE_PROJECT}={f.compose_project}"
        )
        for image in docker_client.images.list():  # what a build case tagged, only that
            for tag in image.tags:
                if f"-{f.hex}:" in tag:
                    with contextlib.suppress(docker.errors.APIError):
                        docker_client.images.remove(tag, force=True)


def _compose(f: Folder, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["docker-compose", "-p", f.compose_project, *args],
        cwd=f.path,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _inspect(client: Any, label: str, value: str) -> dict[str, dict[str, Any]]:
    """service -> inspect of its (one) container."""
    out = {}
    for raw in client.api.containers(all=True, filters={"label": f"{label}={value}"}):
        data = client.api.inspect_container(raw["Id"])
        labels = data["Config"]["Labels"]
        service = labels.get("com.docker.compose.service") or labels[LABEL.SERVICE]
        out[service] = data
    return out


def facts(data: dict[str, Any], rename: Callable[[str], str]) -> dict[str, Any]:
    """What the Compose file decides of a container, names normalised with ``rename``."""
    config, host = data["Config"], data["HostConfig"]
    own = {data["Id"][:12], data["Name"].lstrip("/"), config["Hostname"]}
    labels = {
        k: v
        for k, v in (config.get("Labels") or {}).items()
        if not k.startswith(("com.docker.compose.", LABEL.PREFIX))
    }
    mounts = sorted(
        (
            m["Type"],
            "" if _anonymous(m, data["Name"]) else rename(m.get("Name") or m["Source"]),
            m["Destination"],
            m["RW"],
        )
        for m in data["Mounts"]
    )
    networks = {
        rename(name): sorted(set(n.get("Aliases") or []) - own)
        for name, n in data["NetworkSettings"]["Networks"].items()
    }
    return {
        "image": config["Image"],
        "cmd": config["Cmd"],
        "entrypoint": config["Entrypoint"],
        "env": sorted(config.get("Env") or []),
        "user": config["User"],
        "working_dir": config["WorkingDir"],
        "hostname": None if config["Hostname"] == data["Id"][:12] else config["Hostname"],
        "domainname": config["Domainname"],
        "exposed": sorted(config.get("ExposedPorts") or {}),
        "healthcheck": config.get("Healthcheck"),
        "stop_signal": config.get("StopSignal"),
        "stop_timeout": config.get("StopTimeout"),
        "tty": config["Tty"],
        "stdin": config["OpenStdin"],
        "labels": labels,
        "mounts": mounts,
        "tmpfs_options": sorted(
            (m["Target"], json.dumps(m.get("TmpfsOptions"), sort_keys=True))
            for m in host.get("Mounts") or ()
            if m["Type"] == "tmpfs"
        ),
        "networks": networks,
        **{  # unset and empty are the same to the engine
            key: host.get(key) or None
            for key in (
                "PortBindings",
                "RestartPolicy",
                "CapAdd",
                "CapDrop",
                "Privileged",
                "Tmpfs",
                "Init",
                "Memory",
                "NanoCpus",
                "ExtraHosts",
                "ShmSize",
                "Sysctls",
                "Ulimits",
                "Dns",
                "DnsSearch",
                "DnsOptions",
                "SecurityOpt",
                "ReadonlyRootfs",
                "PidsLimit",
                "LogConfig",
                "GroupAdd",
                "OomScoreAdj",
                "IpcMode",
                "PidMode",
                "Runtime",
            )
        },
    }


def _anonymous(mount: dict[str, Any], container: str) -> bool:
    """An anonymous volume: the engine's random 64-hex name (Compose), or the labelled
    ``{container}_anon-<hash>`` that envkit names it so it can carry it over and list it
    (a deliberate difference)."""
    name = str(mount.get("Name") or "")
    if mount["Type"] != "volume":
        return False
    return len(name) == 64 or name.startswith(f"{container.lstrip('/')}_anon-")


def _renamer(prefix: str, default: str) -> Callable[[str], str]:
    def rename(name: str) -> str:
        if name == default:
            return "default"
        return name[len(prefix) :] if name.startswith(prefix) else name

    return rename


def _write(f: Folder, case: str) -> None:
    files, text = CASES[case]
    for name, content in files.items():
        (f.path / name).parent.mkdir(parents=True, exist_ok=True)
        (f.path / name).write_text(content)
    text = text.replace("{p1}", str(free_port())).replace("{p2}", str(free_port()))
    for placeholder in ("{r1}", "{r2}"):
        first = min(free_port(), 65533)
        text = text.replace(placeholder, f"{first}-{first + 2}")
    (f.path / "compose.yaml").write_text(text.replace("{hex}", f.hex))


def _both(f: Folder, client: Any, case: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(Compose's facts, envkit's facts) per service, one after the other."""
    _write(f, case)
    _compose(f, "up", "-d")
    compose = _inspect(client, COMPOSE_PROJECT, f.compose_project)
    theirs = {
        s: facts(d, _renamer(f"{f.compose_project}_", f"{f.compose_project}_default"))
        for s, d in compose.items()
    }
    _compose(f, "down", "-v", "-t", "1")
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(f.path / "missing")  # Compose made it: envkit must make it too
    ran = envkit("up")
    assert ran.code == 0, ran.err
    assert (f.path / "missing").is_dir() or case != "missing-bind-folder"
    made = _inspect(client, LABEL.PROJECT, f.envkit_project)
    ours = {
        s: facts(d, _renamer(f"{f.envkit_project}_", f.envkit_project)) for s, d in made.items()
    }
    ran = envkit("down", "--volumes")
    assert ran.code == 0, ran.err
    return theirs, ours


# Divergences envkit has not closed yet (issue 9, section 3): strict, so fixing one fails
# the test until its mark goes.
KNOWN: dict[str, str] = {}


def _deliberate(field: str, theirs: Any, ours: Any) -> bool:
    """Deliberate differences, each listed in the README's "Coming from Compose"."""
    if field == "mounts":
        # Compose Specification 08-configs.md: a config is mounted at /NAME outside Swarm;
        # 1.29.2 predates that and mounts none. envkit follows the specification.
        return [m for m in ours if m[2] != "/appconf"] == theirs
    return False


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, marks=pytest.mark.xfail(strict=True, reason=KNOWN[c])) if c in KNOWN else c
        for c in sorted(CASES)
    ],
)
def test_same_containers_as_docker_compose(case: str, folder: Folder, docker_client: Any) -> None:
    theirs, ours = _both(folder, docker_client, case)
    if case == "secrets-configs":
        assert ("bind", str(folder.path / "app.conf"), "/appconf", False) in ours["web"]["mounts"]
    assert sorted(ours) == sorted(theirs)
    differences = [
        (service, field, theirs[service][field], ours[service][field])
        for service in theirs
        for field in theirs[service]
        if theirs[service][field] != ours[service][field]
        and not _deliberate(field, theirs[service][field], ours[service][field])
    ]
    assert differences == [], json.dumps(differences, indent=1, default=str)


DNS = "services:\n" + _svc("a") + _svc("b", "networks:\n  default: {aliases: [bee]}")


def _resolves(client: Any, label: str, value: str) -> dict[str, int]:
    found = _inspect(client, label, value)
    container = client.containers.get(found["a"]["Id"])
    return {
        name: container.exec_run(["ping", "-c1", "-W2", name]).exit_code for name in ("b", "bee")
    }


def test_service_names_resolve_on_both(folder: Folder, docker_client: Any) -> None:
    (folder.path / "compose.yaml").write_text(DNS)
    _compose(folder, "up", "-d")
    theirs = _resolves(docker_client, COMPOSE_PROJECT, folder.compose_project)
    _compose(folder, "down", "-v", "-t", "1")
    assert envkit("up").code == 0
    ours = _resolves(docker_client, LABEL.PROJECT, folder.envkit_project)
    assert theirs == ours == {"b": 0, "bee": 0}


ORDER = (
    "services:\n"
    + _svc("db", 'healthcheck: {test: "sleep 1", interval: 1s}')
    + _svc("web", "depends_on:\n  db: {condition: service_healthy}")
)


def _started_after_healthy(client: Any, label: str, value: str) -> bool:
    found = _inspect(client, label, value)
    web_started = found["web"]["State"]["StartedAt"]
    db_log = found["db"]["State"]["Health"]["Log"]
    first_ok = min(e["End"] for e in db_log if e["ExitCode"] == 0)
    return bool(web_started >= first_ok[: len(web_started)] or web_started > first_ok)


def test_depends_on_healthy_order_on_both(folder: Folder, docker_client: Any) -> None:
    (folder.path / "compose.yaml").write_text(ORDER)
    _compose(folder, "up", "-d")
    assert _started_after_healthy(docker_client, COMPOSE_PROJECT, folder.compose_project)
    _compose(folder, "down", "-v", "-t", "1")
    assert envkit("up").code == 0
    assert _started_after_healthy(docker_client, LABEL.PROJECT, folder.envkit_project)


KEEP = (
    "services:\n"
    + _svc("web", "environment: {X: '1'}\nvolumes: [data:/data, /anon]")
    + ("volumes:\n  data:\n")
)


def _write_then_recreate(client: Any, label: str, value: str, up: Callable[[], None]) -> str:
    found = _inspect(client, label, value)
    client.containers.get(found["web"]["Id"]).exec_run(
        ["sh", "-c", "echo named > /data/f; echo anon > /anon/f"]
    )
    up()
    again = _inspect(client, label, value)
    assert again["web"]["Id"] != found["web"]["Id"]  # recreated
    result = client.containers.get(again["web"]["Id"]).exec_run(["sh", "-c", "cat /data/f /anon/f"])
    return str(result.output.decode())


def test_volume_data_survives_a_recreate_on_both(folder: Folder, docker_client: Any) -> None:
    compose_file = folder.path / "compose.yaml"
    compose_file.write_text(KEEP)
    _compose(folder, "up", "-d")

    def compose_up() -> None:
        compose_file.write_text(KEEP.replace("X: '1'", "X: '2'"))
        _compose(folder, "up", "-d")

    theirs = _write_then_recreate(
        docker_client, COMPOSE_PROJECT, folder.compose_project, compose_up
    )
    _compose(folder, "down", "-v", "-t", "1")
    compose_file.write_text(KEEP)
    assert envkit("up").code == 0

    def envkit_up() -> None:
        compose_file.write_text(KEEP.replace("X: '1'", "X: '2'"))
        assert envkit("up").code == 0

    ours = _write_then_recreate(docker_client, LABEL.PROJECT, folder.envkit_project, envkit_up)
    assert theirs == ours == "named\nanon\n"


def _made(path: Path) -> tuple[int, int, str]:
    info = path.stat()
    return info.st_uid, info.st_gid, oct(info.st_mode)


def test_a_missing_bind_folder_is_made_as_compose_makes_it(folder: Folder) -> None:
    """Both have the engine create it: the same owner and mode, nested folders too."""
    (folder.path / "compose.yaml").write_text(
        "services:\n" + _svc("web", "volumes: [./made/deep:/made]")
    )
    _compose(folder, "up", "-d")
    theirs = (_made(folder.path / "made"), _made(folder.path / "made" / "deep"))
    _compose(folder, "down", "-v", "-t", "1")
    shutil.rmtree(folder.path / "made")
    plan = envkit("plan")
    assert plan.code == 0, plan.err
    assert f"creates folder {folder.path / 'made' / 'deep'}" in plan.out
    assert not (folder.path / "made").exists()  # plan changes nothing
    assert envkit("up").code == 0
    ours = (_made(folder.path / "made"), _made(folder.path / "made" / "deep"))
    assert ours == theirs

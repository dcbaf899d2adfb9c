"""Where the engine is: one identity for every spelling of an endpoint, never a credential;
the host to connect to a published port; DOCKER_HOST, TLS and docker contexts read like
the docker CLI reads them."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from envkit.engine.endpoint import (
    DEFAULT_SOCKET,
    Scheme,
    TlsSettings,
    endpoint_from_env,
    parse_endpoint,
)
from envkit.engine.factory import engine_from_env
from envkit.errors import UsageError


def identity(env: dict[str, str]) -> str:
    return endpoint_from_env(env).identity


def test_every_spelling_of_the_default_socket_is_one_engine() -> None:
    default = identity({})
    assert default == f"unix://{os.path.realpath('/var/run/docker.sock')}"
    for host in (
        DEFAULT_SOCKET,
        "unix://var/run/docker.sock",
        "unix:////var/run//docker.sock",
        "/var/run/docker.sock",
        "/var/run/../run/docker.sock",
    ):
        assert identity({"DOCKER_HOST": host}) == default, host
    assert identity({"DOCKER_HOST": ""}) == default  # empty is unset, as for docker
    assert identity({"DOCKER_HOST": "unix:///tmp/other.sock"}) != default


def test_tcp_identity_fills_in_the_default_port_and_drops_credentials() -> None:
    assert identity({"DOCKER_HOST": "tcp://Build-Box:2375"}) == "tcp://build-box:2375"
    assert identity({"DOCKER_HOST": "tcp://build-box"}) == "tcp://build-box:2375"
    tls = {"DOCKER_HOST": "tcp://build-box", "DOCKER_TLS_VERIFY": "1", "HOME": "/h"}
    assert identity(tls) == "tcp://build-box:2376"
    assert identity({"DOCKER_HOST": "tcp://[::1]:2375"}) == "tcp://[::1]:2375"
    ssh = endpoint_from_env({"DOCKER_HOST": "ssh://deploy:s3cret@build-box"})
    assert ssh.identity == "ssh://build-box:22"
    assert "s3cret" not in ssh.display and "deploy" not in ssh.display


def test_tls_follows_the_docker_cli() -> None:
    ep = endpoint_from_env({"DOCKER_HOST": "tcp://h:2376", "DOCKER_TLS_VERIFY": "1", "HOME": "/h"})
    assert ep.tls == TlsSettings("/h/.docker", verify=True)
    ep = endpoint_from_env({"DOCKER_HOST": "tcp://h:2376", "DOCKER_CERT_PATH": "/certs"})
    assert ep.tls == TlsSettings("/certs", verify=False)
    assert endpoint_from_env({"DOCKER_HOST": "tcp://h", "DOCKER_TLS_VERIFY": ""}).tls is None


def test_connect_host() -> None:
    local = parse_endpoint(DEFAULT_SOCKET)
    assert local.is_local
    assert local.connect_host("0.0.0.0") == "127.0.0.1"
    assert local.connect_host("") == "127.0.0.1"
    assert local.connect_host("::") == "::1"
    assert local.connect_host("192.0.2.7") == "192.0.2.7"
    assert parse_endpoint("tcp://localhost:2375").connect_host("0.0.0.0") == "127.0.0.1"
    remote = parse_endpoint("tcp://build-box:2376")
    assert not remote.is_local
    assert remote.connect_host("0.0.0.0") == "build-box"
    assert remote.connect_host("::") == "build-box"
    assert parse_endpoint("ssh://me@build-box").connect_host("") == "build-box"


def test_display_names_where_it_came_from() -> None:
    assert endpoint_from_env({}).display == "the socket /var/run/docker.sock"
    shown = endpoint_from_env({"DOCKER_HOST": "tcp://127.0.0.1:1"}).display
    assert shown == "DOCKER_HOST=tcp://127.0.0.1:1"


def test_a_docker_context_names_the_endpoint(tmp_path: Path) -> None:
    key = hashlib.sha256(b"ci").hexdigest()
    meta = tmp_path / "contexts" / "meta" / key / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"Name": "ci", "Endpoints": {"docker": {"Host": "tcp://ci:2375"}}}))
    env = {"DOCKER_CONTEXT": "ci", "DOCKER_CONFIG": str(tmp_path)}
    ep = endpoint_from_env(env)
    assert (ep.scheme, ep.identity) == (Scheme.TCP, "tcp://ci:2375")
    assert ep.display == "tcp://ci:2375 (DOCKER_CONTEXT=ci)"
    # DOCKER_HOST wins over a context, as for the docker CLI
    assert identity({**env, "DOCKER_HOST": "tcp://other:1"}) == "tcp://other:1"
    assert identity({"DOCKER_CONTEXT": "default"}) == identity({})
    with pytest.raises(UsageError, match="DOCKER_CONTEXT=nope") as err:
        endpoint_from_env({"DOCKER_CONTEXT": "nope", "DOCKER_CONFIG": str(tmp_path)})
    assert err.value.hint and "docker context ls" in err.value.hint


@pytest.mark.parametrize("value", ["fd://", "tcp://", "tcp://host:notaport", "build-box:2375"])
def test_a_bad_address_is_a_located_usage_error(value: str) -> None:
    with pytest.raises(UsageError) as err:
        endpoint_from_env({"DOCKER_HOST": value})
    assert err.value.code == "invalid-engine"
    assert "DOCKER_HOST" in err.value.message


def test_a_bad_ssh_address_does_not_echo_the_user() -> None:
    with pytest.raises(UsageError) as err:
        parse_endpoint("ssh://secret-user@", source="DOCKER_HOST")
    assert "secret-user" not in err.value.message


def test_the_factory_takes_the_environment_or_an_engine_setting(tmp_path: Path) -> None:
    env = {"DOCKER_HOST": "tcp://from-env:2375", "DOCKER_API_VERSION": "1.41"}
    assert engine_from_env(env).identity == "tcp://from-env:2375"
    # an environment's engine: setting (an address or a context name) wins over DOCKER_HOST
    assert engine_from_env(env, endpoint="unix://var/run/docker.sock").identity == identity({})
    assert engine_from_env(env, endpoint="default").identity == identity({})
    key = hashlib.sha256(b"ci").hexdigest()
    meta = tmp_path / "contexts" / "meta" / key / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"Endpoints": {"docker": {"Host": "ssh://me@ci-box"}}}))
    ctx = engine_from_env({"DOCKER_CONFIG": str(tmp_path)}, endpoint="ci")
    assert ctx.identity == "ssh://ci-box:22" and ctx.connect_host() == "ci-box"


def test_making_an_engine_does_not_import_the_docker_sdk() -> None:
    code = (
        "import sys\n"
        "from envkit.engine.factory import engine_from_env\n"
        "engine_from_env().identity\n"
        "print(sorted(m for m in ('docker', 'requests') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"

"""An environment's ``engine:`` (pure, no engine): its two spellings, located errors for a
bad address or TLS file (FIFOs, folders, dangling symlinks, huge files, passwords), the
endpoint and lock identity it gives, and the one-line errors a failed TLS or ssh connection
is translated into, without a credential."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from envkit.cli import main
from envkit.engine.docker_connect import make_client, remote_failure
from envkit.engine.endpoint import Scheme, parse_endpoint
from envkit.engine.factory import endpoint_of, engine_from_env
from envkit.errors import StackError
from envkit.model import EngineSetting
from envkit.stackfile.pipeline import read, resolve

HEAD = "stack: shop\nservices:\n  app: {image: busybox}\nenvironments:\n  dev: {}\n  release:\n"


def stack(tmp_path: Path, engine: str) -> Path:
    path = tmp_path / "envkit.yaml"
    path.write_text(HEAD + "    engine: " + engine + "\n", encoding="utf-8")
    return path


def setting(tmp_path: Path, engine: str) -> EngineSetting | None:
    return resolve(read(stack(tmp_path, engine)), "release").desired.engine


def problems(tmp_path: Path, engine: str) -> list[str]:
    with pytest.raises(StackError) as err:
        setting(tmp_path, engine)
    return [d.render() for d in err.value.diagnostics]


def pems(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("ca", "cert", "key"):
        (folder / f"{name}.pem").write_text("-----BEGIN X-----\n", encoding="utf-8")


TLS = "{host: 'tcp://h:2376', tls: {ca: c/ca.pem, cert: c/cert.pem, key: c/key.pem}}"


def test_the_default_engine_is_none_and_dev_stays_local(tmp_path: Path) -> None:
    path = stack(tmp_path, "ssh://deploy@build-box")
    assert resolve(read(path), "dev").desired.engine is None
    found = resolve(read(path), "release").desired.engine
    assert found is not None and found.address == "ssh://deploy@build-box"
    assert found.where == f"environment release at {path}:7:13"


@pytest.mark.parametrize(
    ("text", "address", "context"),
    [
        ("unix:///run/other.sock", "unix:///run/other.sock", ""),
        ("/run/other.sock", "/run/other.sock", ""),
        ("tcp://10.0.0.5:2376", "tcp://10.0.0.5:2376", ""),
        ("release-box", "", "release-box"),
        ("{context: release-box}", "", "release-box"),
        ("{host: 'ssh://me@h:2222'}", "ssh://me@h:2222", ""),
    ],
)
def test_spellings(tmp_path: Path, text: str, address: str, context: str) -> None:
    found = setting(tmp_path, text)
    assert found is not None and (found.address, found.context) == (address, context)
    assert not found.has_tls


def test_tls_files_are_relative_to_the_stack_file(tmp_path: Path) -> None:
    pems(tmp_path / "c")
    found = setting(tmp_path, TLS)
    assert found is not None and found.tls_ca == str(tmp_path / "c" / "ca.pem")
    endpoint = endpoint_of(found, {})
    assert endpoint.tls is not None
    assert (endpoint.tls.ca_file, endpoint.tls.cert_file, endpoint.tls.key_file) == (
        found.tls_ca,
        found.tls_cert,
        found.tls_key,
    )
    assert endpoint.tls.verify and endpoint.identity == "tcp://h:2376"


def test_a_symlink_to_a_pem_file_is_fine(tmp_path: Path) -> None:
    pems(tmp_path / "real")
    (tmp_path / "c").mkdir()
    for name in ("ca", "cert", "key"):
        os.symlink(tmp_path / "real" / f"{name}.pem", tmp_path / "c" / f"{name}.pem")
    assert setting(tmp_path, TLS) is not None


def test_tls_files_that_are_not_regular_files_are_located_errors(tmp_path: Path) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    os.mkfifo(folder / "ca.pem")  # would block the TLS setup for ever
    (folder / "cert.pem").mkdir()
    os.symlink(folder / "nowhere.pem", folder / "key.pem")  # dangling
    found = problems(tmp_path, TLS)
    assert len(found) == 3
    assert (
        "envkit.yaml:7:" in found[0]
        and "tls.ca: 'c/ca.pem' is not a regular file (a FIFO)" in found[0]
    )
    assert "tls.cert: 'c/cert.pem' is not a regular file (a folder)" in found[1]
    assert "tls.key: 'c/key.pem' does not exist" in found[2]
    assert all("error[engine-tls-file]" in p and "hint:" in p for p in found)


def test_a_huge_tls_file_is_refused(tmp_path: Path) -> None:
    pems(tmp_path / "c")
    with (tmp_path / "c" / "ca.pem").open("wb") as f:
        f.truncate(2 << 20)
    assert "is 2097152 bytes, not a PEM file" in problems(tmp_path, TLS)[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{host: 'tcp://h', context: c}", "give exactly one of host and context"),
        ("{tls: {ca: a, cert: b, key: c}}", "give exactly one of host and context"),
        ("{context: c, tls: {ca: a, cert: b, key: c}}", "tls goes with host: tcp://"),
        ("{host: 'ssh://h', tls: {ca: a, cert: b, key: c}}", "tls applies only to a tcp:// host"),
        ("'fd://3'", "the scheme 'fd://' is not one envkit can use"),
        ("'tcp://'", "the tcp:// address names no host"),
        ("'tcp://h:99999'", "the tcp:// address has a bad port"),
        ("'tcp://h:2376/v1'", "has a path, query or fragment"),
        ("'unix://'", "names no socket"),
        ("'bad context!'", "is neither an engine address nor a context name"),
        ("{host: release-box}", "a context name goes under context:"),
        ("{host: 'tcp://h', resolve_image: never}", "applies to a Swarm environment only"),
        ("{swarm: 'unix:///m.sock', resolve_image: sometimes}", "resolve_image"),
        ("{swarm: 'unix:///m.sock', host: 'tcp://h'}", "names a Swarm manager on its own"),
    ],
)
def test_bad_settings_are_located_errors(tmp_path: Path, text: str, message: str) -> None:
    found = problems(tmp_path, text)
    assert any(message in p for p in found), found
    assert all(p.startswith(f"{tmp_path}/envkit.yaml:7:") for p in found), found


def test_the_schema_knows_the_mapping_keys(tmp_path: Path) -> None:
    found = problems(tmp_path, "{host: 'tcp://h', port: 1}")
    assert any("port" in p for p in found), found


def test_a_password_in_an_address_is_refused_and_never_shown(tmp_path: Path) -> None:
    found = problems(tmp_path, "'ssh://deploy:hunter2@build-box'")
    assert "error[engine-password]" in found[0] and "hunter2" not in "".join(found)
    # from DOCKER_HOST (not a file) the password is dropped from what the SDK sees
    endpoint = parse_endpoint("ssh://deploy:hunter2@build-box:2222", source="DOCKER_HOST")
    assert endpoint.url == "ssh://deploy@build-box:2222"
    assert "hunter2" not in repr(endpoint) and "deploy" not in endpoint.display


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("tcp://10.0.0.5:2376", "TCP://10.0.0.5:2376"),
        ("tcp://[::1]:2375", "tcp://[0:0::1]:2375"),
        ("tcp://[::ffff:10.0.0.5]:2375", "tcp://10.0.0.5:2375"),
        ("tcp://Build-Box.:2375", "tcp://build-box:2375"),
        ("ssh://alice@h", "ssh://h:22"),
        ("unix:///var/run/docker.sock", "/var/run/../run/docker.sock"),
    ],
)
def test_two_spellings_of_one_engine_are_one_identity(a: str, b: str) -> None:
    assert parse_endpoint(a).identity == parse_endpoint(b).identity


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("tcp://10.0.0.5:2376", "tcp://10.0.0.5:2375"),
        ("tcp://10.0.0.5:2376", "tcp://10.0.0.6:2376"),
        ("tcp://h:22", "ssh://h:22"),
        ("ssh://h", "ssh://h:2222"),
        ("unix:///run/a.sock", "unix:///run/b.sock"),
    ],
)
def test_two_engines_never_share_an_identity(a: str, b: str) -> None:
    assert parse_endpoint(a).identity != parse_endpoint(b).identity


def test_a_context_setting_names_the_environment(tmp_path: Path) -> None:
    found = EngineSetting(context="nope", where="environment release")
    with pytest.raises(Exception, match="environment release: context nope"):
        endpoint_of(found, {"DOCKER_CONFIG": str(tmp_path)})


def test_the_client_never_lets_the_process_environment_choose_the_ca(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """requests would let REQUESTS_CA_BUNDLE replace the CA of the SDK's TLSConfig (pinned
    in tests/cluster/test_harness.py); the client ignores the environment."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    client = make_client(parse_endpoint("tcp://127.0.0.1:1"), "1.41", 5)
    try:
        assert client.trust_env is False
        client.trust_env = True  # what requests.Session.__init__ does
        assert client.trust_env is False
        got = client.merge_environment_settings("https://127.0.0.1:1", {}, None, "/my/ca.pem", None)
        assert got["verify"] == "/my/ca.pem" and not got["proxies"]
    finally:
        client.close()


# -- translated connection failures ----------------------------------------------------


def _named(name: str, base: type[BaseException] = Exception) -> type[BaseException]:
    return type(name, (base,), {})


SSHException = _named("SSHException")
AuthenticationException = _named("AuthenticationException", SSHException)
BadHostKeyException = _named("BadHostKeyException", SSHException)
NoValidConnectionsError = _named("NoValidConnectionsError", OSError)
SSLError = _named("SSLError", OSError)
SSLCertVerificationError = _named("SSLCertVerificationError", SSLError)

SSH = parse_endpoint("ssh://deploy:hunter2@10.0.0.5", source="environment release")
TLS_ENDPOINT = endpoint_of(
    EngineSetting(address="tcp://10.0.0.5:2376", tls_ca="/c/ca.pem", tls_cert="/c/c.pem",
                  tls_key="/c/key.pem", where="environment release"),
    {},
)  # fmt: skip


@pytest.mark.parametrize(
    ("endpoint", "exc", "code", "says"),
    [
        (SSH, AuthenticationException("Authentication failed."), "engine-ssh-auth",
         "refused the ssh login"),
        (SSH, BadHostKeyException("does not match"), "engine-ssh-host-key",
         "is not the one in known_hosts"),
        (SSH, SSHException("Server '10.0.0.5' not found in known_hosts"), "engine-ssh-host-key",
         "is not in ~/.ssh/known_hosts"),
        (SSH, NoValidConnectionsError("Unable to connect"), "engine-unavailable",
         "no ssh server answers on 10.0.0.5 port 22"),
        (SSH, SSHException("Error reading SSH protocol banner"), "engine-ssh-failed",
         "the ssh connection to 10.0.0.5 failed"),
        (TLS_ENDPOINT, SSLCertVerificationError("[SSL: CERTIFICATE_VERIFY_FAILED] unable to get"),
         "engine-tls-untrusted", "not signed by the CA"),
        (TLS_ENDPOINT, SSLCertVerificationError("CERTIFICATE_VERIFY_FAILED IP address mismatch"),
         "engine-tls-untrusted", "not made out for 10.0.0.5"),
        (TLS_ENDPOINT, SSLError("EOF occurred in violation of protocol"), "engine-tls-refused",
         "refused this client's TLS certificate"),
        (TLS_ENDPOINT, SSLError("[SSL] PEM lib (_ssl.c:3900)"), "engine-tls-files",
         "cannot be used"),
        (TLS_ENDPOINT, SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number"),
         "engine-tls-refused", "does not speak TLS"),
    ],
)  # fmt: skip
def test_connection_failures_are_said_plainly(
    endpoint: object, exc: BaseException, code: str, says: str
) -> None:
    outer = RuntimeError("Error while fetching server API version: ssh://deploy:hunter2@...")
    outer.__cause__ = exc
    chain: list[BaseException] = [outer, exc]
    error = remote_failure(endpoint, chain, {type(e).__name__ for e in chain})  # type: ignore[arg-type]
    assert error is not None and error.code == code
    assert says in error.message and "environment release" in error.message
    assert error.hint
    assert "hunter2" not in error.message + error.hint and "/c/key.pem" not in error.message


def test_a_local_socket_failure_is_not_a_remote_one() -> None:
    local = parse_endpoint("unix:///var/run/docker.sock")
    assert local.scheme is Scheme.UNIX
    assert remote_failure(local, [ConnectionRefusedError()], {"ConnectionRefusedError"}) is None


def test_cli_engine_option_and_env_exclude_each_other(tmp_path: Path) -> None:
    path = stack(tmp_path, "'tcp://127.0.0.1:1'")
    err = io.StringIO()
    code = main(["-f", str(path), "ps", "release", "--engine", "tcp://127.0.0.1:1"], stderr=err)
    assert code == 2 and "--engine goes with `ps` without ENV" in err.getvalue()


def test_the_factory_takes_an_engine_setting() -> None:
    found = engine_from_env(
        {}, endpoint=EngineSetting(address="ssh://me@box", where="environment x")
    )
    assert found.identity == "ssh://box:22" and found.connect_host() == "box"


def test_the_watchdog_gets_the_environments_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """A watchdog tears down on the environment's engine, not DOCKER_HOST's: the setting goes
    to the child as JSON and comes back equal."""
    import json
    import subprocess

    from envkit import watchdog

    seen: list[list[str]] = []

    class Started(Exception):
        pass

    def fake_popen(argv: list[str], **_: object) -> None:
        seen.append(argv)
        raise Started

    monkeypatch.setattr(subprocess, "Popen", fake_popen)
    wanted = EngineSetting(address="tcp://h:2376", tls_ca="/c/ca.pem", tls_cert="/c/c.pem",
                           tls_key="/c/k.pem", where="environment release at envkit.yaml:7:13")  # fmt: skip
    with pytest.raises(Started):
        watchdog.Watchdog.spawn("shop-release", engine=wanted)
    argv = seen[0]
    handed = argv[argv.index("--engine-setting") + 1]
    assert EngineSetting(**json.loads(handed)) == wanted


def test_a_context_brings_its_own_tls_files(tmp_path: Path) -> None:
    import hashlib
    import json

    key = hashlib.sha256(b"release-box").hexdigest()
    meta = tmp_path / "contexts" / "meta" / key / "meta.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"Endpoints": {"docker": {"Host": "tcp://10.0.0.5:2376"}}}))
    tls = tmp_path / "contexts" / "tls" / key / "docker"
    pems(tls)
    found = endpoint_of(EngineSetting(context="release-box", where="environment release"),
                        {"DOCKER_CONFIG": str(tmp_path)})  # fmt: skip
    assert found.tls is not None and found.tls.verify
    assert found.tls.ca_file == str(tls / "ca.pem")
    assert found.display == "tcp://10.0.0.5:2376 (environment release: context release-box)"

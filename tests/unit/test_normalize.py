"""to_desired() and the short-syntax parsers: every spelling lands on one model value."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from envkit.errors import Diagnostic, StackError, redact
from envkit.model import (
    BuildSpec,
    Condition,
    Dependency,
    DesiredState,
    Healthcheck,
    Mount,
    MountType,
    PortSpec,
    PullPolicy,
    ServiceSpec,
    VolumeSpec,
)
from envkit.stackfile.document import parse
from envkit.stackfile.normalize import to_desired
from envkit.stackfile.render import render
from envkit.stackfile.syntax import Invalid, parse_duration, parse_mount, parse_port, parse_size

DIR = Path("/srv/stack")


def desired(tmp_path: Path, text: str, env: str = "dev", **kwargs: Any) -> DesiredState:
    doc = parse(textwrap.dedent(text), path=tmp_path / "envkit.yaml", display="envkit.yaml")
    kwargs.setdefault("environ", {})
    return to_desired(render(doc, env, **kwargs))


def service(tmp_path: Path, body: str, **kwargs: Any) -> ServiceSpec:
    text = "stack: s\nenvironments: {dev: {}}\nservices:\n  a:\n" + textwrap.indent(
        textwrap.dedent(body), "    "
    )
    return desired(tmp_path, text, **kwargs).service("a")


def failure(tmp_path: Path, body: str, **kwargs: Any) -> str:
    with pytest.raises(StackError) as caught:
        service(tmp_path, body, **kwargs)
    return caught.value.render()


# -- ports -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("80", [PortSpec(80)]),
        (80, [PortSpec(80)]),
        ("8080:80", [PortSpec(80, published=8080)]),
        ("127.0.0.1:8080:80", [PortSpec(80, "tcp", "127.0.0.1", 8080)]),
        ("127.0.0.1::80", [PortSpec(80, "tcp", "127.0.0.1", None)]),
        ("[::1]:8080:80", [PortSpec(80, "tcp", "::1", 8080)]),
        ("[::1]::80", [PortSpec(80, "tcp", "::1", None)]),
        ("53:53/udp", [PortSpec(53, "udp", "", 53)]),
        ("9999/sctp", [PortSpec(9999, "sctp")]),
        ("9000-9002:9100-9102", [PortSpec(9100 + i, published=9000 + i) for i in range(3)]),
        ("9000-9001", [PortSpec(9000), PortSpec(9001)]),
        ("65535:1", [PortSpec(1, published=65535)]),
        # an unbracketed IPv6 address: as Compose splits it, the last two fields are ports
        ("::1:6000:6000", [PortSpec(6000, "tcp", "::1", 6000)]),
        ("::1::80/udp", [PortSpec(80, "udp", "::1", None)]),
        ("fe80::1:9000:80", [PortSpec(80, "tcp", "fe80::1", 9000)]),
        ("1:2:3:4:5:6:7:8:80:80", [PortSpec(80, "tcp", "1:2:3:4:5:6:7:8", 80)]),
        ("::ffff:1.2.3.4:9000:80", [PortSpec(80, "tcp", "::ffff:102:304", 9000)]),
        ("::1:6000-6001:80-81", [PortSpec(80 + i, "tcp", "::1", 6000 + i) for i in range(2)]),
        # a host range for one container port: the engine binds the first free one
        ("8000-8010:80", [PortSpec(80, "tcp", "", 8000, 8010)]),
        ("127.0.0.1:8000-8001:80/udp", [PortSpec(80, "udp", "127.0.0.1", 8000, 8001)]),
        ("[::1]:8000-8010:80", [PortSpec(80, "tcp", "::1", 8000, 8010)]),
    ],
)
def test_short_port_syntax(value: Any, expected: list[PortSpec]) -> None:
    assert parse_port(value) == tuple(expected)


PORT_HINTS = [
    ("54321:5432/tpc", "the protocol must be tcp, udp or sctp"),
    ("0:80", "port 0 is out of range: ports are 1 to 65535"),
    ("80:65536", "port 65536 is out of range: ports are 1 to 65535"),
    ("http:80", "the host port must be a number or a range like 9000-9002"),
    ("80:", "the container port must be a number or a range like 9000-9002"),
    (":80", "write the host port before ':' or only the container port"),
    ("9000-9001:80-82", "the host and container ranges must have the same number of ports"),
    ("9002-9000:80", "the host range 9002-9000 ends before it starts"),
    ("::1:8080", "':' is not an IP address (after an IPv6 address come HOST:CONTAINER: ::1:8080:80, or ::1::80)"),
    ("::8080", "'' is not an IP address (IPv6 may go in brackets: [::1]:8080:80)"),
    ("1:8080:80", "'1' is not an IP address (IPv6 may go in brackets: [::1]:8080:80)"),
    ("localhost:8080:80", "'localhost' is not an IP address (IPv6 may go in brackets: [::1]:8080:80)"),
    ("[::1]8080:80", "an IPv6 address is written [::1]:8080:80"),
    (True, "write a port as a string like '8080:80' or a mapping"),
]  # fmt: skip


@pytest.mark.parametrize(("value", "hint"), PORT_HINTS)
def test_bad_ports_say_why(value: Any, hint: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_port(value)
    assert (caught.value.message, caught.value.hint) == ("{value} is not a port mapping", hint)


def test_short_and_long_ports_are_equal(tmp_path: Path) -> None:
    short = service(tmp_path, 'image: x\nports: ["127.0.0.1:8080:80/udp", "9000-9001:9000-9001"]')
    long = service(
        tmp_path,
        """
        image: x
        ports:
          - {target: 80, published: "8080", host_ip: 127.0.0.1, protocol: udp}
          - {target: "9000-9001", published: 9000-9001}
        """,
    )
    assert short == long
    assert short.ports[0] == PortSpec(80, "udp", "127.0.0.1", 8080)


def test_a_bad_port_in_a_stack_is_located(tmp_path: Path) -> None:
    assert failure(tmp_path, 'image: x\nports: ["54321:5432/tpc"]') == (
        "envkit.yaml:6:13: error[invalid-port]: services.a.ports[0]: '54321:5432/tpc' is not"
        " a port mapping\n  hint: the protocol must be tcp, udp or sctp"
    )
    # an IPv6 address followed by only one port: the schema lets it through to the parser,
    # which says what is wrong rather than the generic hint
    assert failure(tmp_path, 'image: x\nports: ["::1:6000"]') == (
        "envkit.yaml:6:13: error[invalid-port]: services.a.ports[0]: '::1:6000' is not a port"
        " mapping\n  hint: ':' is not an IP address (after an IPv6 address come"
        " HOST:CONTAINER: ::1:8080:80, or ::1::80)"
    )


# -- volumes -----------------------------------------------------------------------------


def vol(source: str, target: str, ro: bool = False) -> Mount:
    return Mount(MountType.VOLUME, target, source, ro)


def bind(source: str, target: str, ro: bool = False, *, create: bool = True) -> Mount:
    """A bind; the short syntax creates a missing source (create_host_path), the long one
    only when asked."""
    return Mount(MountType.BIND, target, source, ro, create_host_path=create)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("data:/var/lib/mysql", vol("data", "/var/lib/mysql")),
        ("data:/var/lib/mysql:ro", vol("data", "/var/lib/mysql", True)),
        ("data:/var/lib/mysql/:rw", vol("data", "/var/lib/mysql")),
        ("./conf:/etc/conf.d:ro", bind("/srv/stack/conf", "/etc/conf.d", True)),
        ("../x:/p", bind("/srv/x", "/p")),
        (".:/src", bind("/srv/stack", "/src")),
        ("/abs/dir:/p:ro,cached", bind("/abs/dir", "/p", True)),
        ("/anonymous", vol("", "/anonymous")),
        ("/anonymous:ro", vol("", "/anonymous", True)),
        ({"type": "volume", "source": "data", "target": "/d"}, vol("data", "/d")),
        ({"target": "/d"}, vol("", "/d")),
        ({"type": "bind", "source": "./c", "target": "/c", "read_only": True},
         bind("/srv/stack/c", "/c", True, create=False)),
        ({"type": "tmpfs", "target": "/run"}, Mount(MountType.TMPFS, "/run")),
    ],
)  # fmt: skip
def test_volume_syntaxes(value: Any, expected: Mount) -> None:
    assert parse_mount(value, DIR) == expected


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/dev")
    assert parse_mount("~/x:/p", DIR) == bind("/home/dev/x", "/p")


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("data:rel/path", "the container path 'rel/path' must be absolute"),
        ("relative", "the container path 'relative' must be absolute"),
        ("data:/p:rx", "unknown mode 'rx': use ro, rw, z, Z, nocopy or a propagation"),
        ("data:/p:ro,rw", "a mount takes ro or rw, not several"),
        ("a:b:c:d", "use SOURCE:TARGET[:MODES]"),
        (":/p", "the source before ':' is empty"),
        ("da ta:/p", "'da ta' is neither a volume name nor a path"),
        ({"type": "nfs", "target": "/p"}, "type must be volume, bind or tmpfs"),
        ({"type": "bind", "target": "/p"}, "a bind mount needs a source path"),
        ({"type": "tmpfs", "source": "x", "target": "/p"}, "a tmpfs mount has no source"),
        ({"source": "x"}, "a mount needs a target: the absolute path in the container"),
        ({"target": "/p", "read_only": "yes"}, "read_only must be true or false"),
    ],
)
def test_bad_volumes_say_why(value: Any, hint: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse_mount(value, DIR)
    assert (caught.value.message, caught.value.hint) == ("{value} is not a volume mount", hint)


def test_short_and_long_volumes_are_equal(tmp_path: Path) -> None:
    short = service(tmp_path, 'image: x\nvolumes: ["data:/d:ro", "./c:/c", "/anon"]')
    long = service(
        tmp_path,
        """
        image: x
        volumes:
          - {type: volume, source: data, target: /d, read_only: true}
          - {type: bind, source: ./c, target: /c/, bind: {create_host_path: true}}
          - {type: volume, target: /anon}
        """,
    )
    assert short == long  # the short syntax creates a missing folder: create_host_path
    assert short.mounts[1] == bind(str(tmp_path / "c"), "/c")


# -- durations and sizes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1m30s", 90.0), ("500ms", 0.5), ("2s", 2.0), ("1h", 3600.0), ("10us", 1e-5),
     ("1.5s", 1.5), ("1h2m3s", 3723.0), ("100ns", 1e-7), (5, 5.0), (2.5, 2.5), ("7", 7.0),
     ("0", 0.0)],
)  # fmt: skip
def test_durations(value: Any, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["", "1x", "s", "1m30", "1 m", "-1s", -1, True, [1], "1s1"])
def test_bad_durations(value: Any) -> None:
    with pytest.raises(Invalid, match="is not a duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "size"),
    [("512m", 512 * 2**20), ("1g", 2**30), ("1024k", 2**20), ("100b", 100), ("1GB", 2**30),
     ("1.5g", 3 * 2**29), (4096, 4096), ("77", 77)],
)  # fmt: skip
def test_sizes(value: Any, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["", "lots", "1x", "-1m", -5, True, 1.5, "m"])
def test_bad_sizes(value: Any) -> None:
    with pytest.raises(Invalid, match="is not a size"):
        parse_size(value)


# -- the other service keys --------------------------------------------------------------


def test_map_and_list_spellings_are_equal(tmp_path: Path) -> None:
    as_map = service(
        tmp_path,
        """
        image: x
        environment: {B: true, A: 3306, C: "x=y", PASSED: null, UNSET: null}
        labels: {b: "2", a: "1"}
        extra_hosts: {db: 10.0.0.2, v6: "::1"}
        depends_on: {y: {condition: service_started}, x: null}
        command: echo "a b" c
        cap_add: [SYS_ADMIN, NET_ADMIN]
        """,
        environ={"PASSED": "from-shell"},
    )
    as_list = service(
        tmp_path,
        """
        image: x
        environment: ["A=3306", "C=x=y", "B=true", PASSED, UNSET]
        labels: ["a=1", "b=2"]
        extra_hosts: ["v6:::1", "db=10.0.0.2"]
        depends_on: [x, y]
        command: [echo, "a b", c]
        cap_add: [NET_ADMIN, SYS_ADMIN]
        """,
        environ={"PASSED": "from-shell"},
    )
    assert as_map == as_list
    assert as_map.environment == (
        ("A", "3306"),
        ("B", "true"),
        ("C", "x=y"),
        ("PASSED", "from-shell"),
    )
    assert as_map.extra_hosts == (("db", "10.0.0.2"), ("v6", "::1"))
    assert as_map.depends_on == (Dependency("x"), Dependency("y"))
    assert as_map.command == ("echo", "a b", "c")


def test_every_key_normalized(tmp_path: Path) -> None:
    spec = service(
        tmp_path,
        """
        build: {context: ./app, dockerfile: Dockerfile.dev, args: {V: 1}, target: dev}
        entrypoint: ["/bin/sh", "-c"]
        healthcheck: {test: "curl -f localhost", interval: 1m30s, timeout: 2s, start_period: 500ms, retries: 3}
        depends_on: {db: {condition: service_healthy}}
        restart: on-failure:3
        user: 1000
        working_dir: /app
        hostname: web
        cap_drop: [ALL]
        privileged: true
        tmpfs: /run
        init: true
        stop_grace_period: 10s
        mem_limit: 512m
        cpus: "1.5"
        replicas: 2
        pull_policy: if_not_present
        """,
    )  # fmt: skip
    assert spec == ServiceSpec(
        name="a",
        image="s-dev-a",
        build=BuildSpec(str(tmp_path / "app"), "Dockerfile.dev", (("V", "1"),), "dev"),
        entrypoint=("/bin/sh", "-c"),
        healthcheck=Healthcheck(("CMD-SHELL", "curl -f localhost"), 90.0, 2.0, 0.5, 3),
        depends_on=(Dependency("db", Condition.HEALTHY),),
        restart="on-failure:3",
        user="1000",
        working_dir="/app",
        hostname="web",
        cap_drop=("ALL",),
        privileged=True,
        tmpfs=("/run",),
        init=True,
        stop_grace_period_s=10.0,
        mem_limit=512 * 2**20,
        cpus=1.5,
        replicas=2,
        pull_policy=PullPolicy.MISSING,
    )


@pytest.mark.parametrize(
    ("healthcheck", "test"),
    [
        ("{test: [CMD, mysqladmin, ping]}", ("CMD", "mysqladmin", "ping")),
        ("{test: [CMD-SHELL, exit 0]}", ("CMD-SHELL", "exit 0")),
        ("{test: exit 0}", ("CMD-SHELL", "exit 0")),
        ("{test: [NONE]}", ("NONE",)),
        ("{disable: true, test: [CMD, x]}", ("NONE",)),
    ],
)
def test_healthcheck_forms(tmp_path: Path, healthcheck: str, test: tuple[str, ...]) -> None:
    check = service(tmp_path, f"image: x\nhealthcheck: {healthcheck}").healthcheck
    assert check is not None and check.test == test


def test_volumes_at_the_top_level_keep_their_order(tmp_path: Path) -> None:
    state = desired(
        tmp_path,
        """
        stack: s
        environments: {dev: {}}
        services: {a: {image: x}}
        volumes:
          zeta: {}
          alpha: {driver: local, driver_opts: {type: tmpfs}, labels: [team=db]}
          shared: {external: true}
        """,
    )
    assert state.volumes == (
        VolumeSpec("zeta"),
        VolumeSpec("alpha", driver_opts=(("type", "tmpfs"),), labels=(("team", "db"),)),
        VolumeSpec("shared", external=True),
    )


BAD = """
image: x
ports: ["80/tpc"]
volumes: [data:relative]
command: echo "unclosed
healthcheck: {test: [RUN, x], interval: soon}
depends_on: {db: {condition: service_ready}}
restart: sometimes
stop_grace_period: 1x
mem_limit: lots
cpus: many
replicas: -1
pull_policy: every_0s
privileged: maybe
"""


def test_every_problem_is_reported_at_once_with_its_location(tmp_path: Path) -> None:
    assert failure(tmp_path, BAD) == "\n".join(
        [
            "envkit.yaml:7:13: error[invalid-port]: services.a.ports[0]: '80/tpc' is not a port"
            " mapping\n  hint: the protocol must be tcp, udp or sctp",
            "envkit.yaml:8:15: error[invalid-volume]: services.a.volumes[0]: 'data:relative' is"
            " not a volume mount\n  hint: the container path 'relative' must be absolute",
            "envkit.yaml:9:14: error[invalid-command]: services.a.command: 'echo \"unclosed'"
            " cannot be split into words: No closing quotation\n  hint: close the quote, or"
            " write a list",
            "envkit.yaml:10:25: error[invalid-healthcheck]: services.a.healthcheck.test: the"
            " test must start with CMD, CMD-SHELL or NONE\n  hint: e.g. [CMD, mysqladmin, ping]"
            " or a shell string",
            "envkit.yaml:11:34: error[invalid-depends-on]: services.a.depends_on.db.condition:"
            " 'service_ready' is not a condition\n  hint: use service_started, service_healthy"
            " or service_completed_successfully",
            "envkit.yaml:12:14: error[invalid-restart]: services.a.restart: 'sometimes' is not a"
            " restart policy\n  hint: use no, always, unless-stopped or on-failure[:N] (N up to"
            " 2147483647)",
            "envkit.yaml:13:24: error[invalid-duration]: services.a.stop_grace_period: '1x' is"
            " not a duration\n  hint: write a duration like 1m30s, 500ms, 2s or 1h (a plain"
            " number is seconds)",
            "envkit.yaml:14:16: error[invalid-size]: services.a.mem_limit: 'lots' is not a"
            " size\n  hint: write a size like 512m, 1g, 1024k or 100b (a plain number is bytes)",
            "envkit.yaml:15:11: error[invalid-number]: services.a.cpus: 'many' is not a"
            " number\n  hint: write a number from 0.01 to 1024",
            "envkit.yaml:16:15: error[invalid-number]: services.a.replicas: '-1' is out of"
            " range\n  hint: write a whole number from 0 to 1000",
            "envkit.yaml:17:18: error[invalid-pull-policy]: services.a.pull_policy: 'every_0s' is"
            " not a pull policy\n  hint: use always, missing, never, build, daily, weekly or"
            " every_<duration> (every_12h, every_30m)",
            "envkit.yaml:18:17: error[invalid-type]: services.a.privileged: 'maybe' is not a"
            " boolean\n  hint: write true or false",
        ]
    )


def test_a_service_needs_an_image_or_a_build(tmp_path: Path) -> None:
    assert failure(tmp_path, "user: root") == (
        "envkit.yaml:4:3: error[missing-image]: services.a: service 'a' has neither image nor"
        " build\n  hint: add 'image: NAME[:TAG]' or a 'build' context"
    )


# -- secrets -----------------------------------------------------------------------------

SECRET_STACK = """
stack: s
vars: {db_password: "vAr-pw: with\\nnewline", api_token: tok-12345}
environments:
  dev: {env_file: .env}
services:
  a:
    image: x
    environment:
      FROM_FILE: "{{ env.FILE_SECRET }}"
      DERIVED: "{{ db_password | upper }}"
      PLAIN: "{{ api_token }}"
    ports:
      - "{{ env.FILE_SECRET }}"
      - "{{ db_password }}:80"
      - "{{ api_token }}"
    volumes: ["{{ env.FILE_SECRET }}:relative", "{{ api_token }}"]
    command: "{{ env.FILE_SECRET }} 'unclosed"
    stop_grace_period: "{{ db_password }}"
    mem_limit: "{{ env.FILE_SECRET }}"
    cpus: "{{ api_token }}"
    restart: "{{ db_password | upper }}"
    healthcheck: {test: [CMD, x], interval: "x{{ api_token }}"}
    depends_on: {db: {condition: "{{ env.FILE_SECRET }}"}}
"""
TEMPLATE_ERRORS = """
    labels:
      t: "{{ undefined_thing }}"
      u: "{{ api_token.split(x) }}"
      v: "{{ env.FILE_SECRET.nope() }}"
      w: "{{ db_password ~ 1 / 0 }}"
      x: "{{ [api_token] }}"
"""
SECRETS = ["file-SeCrEt-value", "vAr-pw: with\nnewline", "VAR-PW: WITH\nNEWLINE", "tok-12345"]
FRAGMENTS = ["SeCrEt", "vAr-pw", "VAR-PW", "12345"]  # parts of a secret are not shown either


def all_output(error: StackError) -> list[str]:
    texts = [error.render(), str(error), error.message, error.hint or ""]
    for d in error.diagnostics:
        texts += [d.render(), d.message, d.hint or "", repr(d.to_json())]
    return texts


def test_secrets_never_appear_in_any_message(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FILE_SECRET=file-SeCrEt-value\n")
    doc = parse(textwrap.dedent(SECRET_STACK), path=tmp_path / "envkit.yaml", display="envkit.yaml")
    rendered = render(doc, "dev", environ={})
    assert set(SECRETS) <= rendered.sensitive_values
    with pytest.raises(StackError) as caught:
        to_desired(rendered)
    error = caught.value
    assert len(error.diagnostics) >= 10
    for text in all_output(error):
        for secret in SECRETS:
            assert secret not in text  # masked at the source, not only by redact
            assert secret not in redact(text, rendered.sensitive_values)
        for fragment in FRAGMENTS:
            assert fragment not in text
    assert "(sensitive) is not a port mapping" in error.render()


def test_secrets_in_template_errors_are_masked(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FILE_SECRET=file-SeCrEt-value\n")
    stack = SECRET_STACK + TEMPLATE_ERRORS
    doc = parse(textwrap.dedent(stack), path=tmp_path / "envkit.yaml", display="envkit.yaml")
    with pytest.raises(StackError) as caught:
        render(doc, "dev", environ={})
    assert len(caught.value.diagnostics) == 5
    for text in all_output(caught.value):
        for secret in SECRETS + FRAGMENTS:
            assert secret not in text


def test_sensitive_env_names_the_secret_variables(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FILE_SECRET=file-SeCrEt-value\n")
    stack = SECRET_STACK.split("    ports:")[0]
    doc = parse(textwrap.dedent(stack), path=tmp_path / "envkit.yaml", display="envkit.yaml")
    spec = to_desired(render(doc, "dev", environ={})).service("a")
    assert spec.sensitive_env == {"FROM_FILE", "DERIVED", "PLAIN"}


def test_diagnostic_type_is_the_contract() -> None:
    assert Diagnostic("c", "m").render() == "error[c]: (root): m"

"""`envkit validate` and `envkit render` end to end through main(argv): exact text."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from envkit.cli import main

STACK = """\
stack: shop
vars:
  db_password: hunter2-secret
environments:
  dev: {vars: {port: 3307}}
  test: {vars: {port: 3308}}
services:
  db:
    image: mysql:5.7
    environment: {MYSQL_ROOT_PASSWORD: "{{ db_password }}", MODE: dev}
    ports: ["127.0.0.1:{{ port }}:3306"]
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def stack(tmp_path: Path) -> Path:
    path = tmp_path / "envkit.yaml"
    path.write_text(STACK)
    return path


def test_validate_ok_names_every_environment(stack: Path) -> None:
    assert run("-f", str(stack), "validate") == (0, f"{stack}: valid (dev, test)\n", "")


def test_validate_reports_every_error_located_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "envkit.yaml"
    path.write_text(
        STACK.replace("environment:", "enviroment:").replace(
            '"127.0.0.1:{{ port }}:3306"', '"54321:5432/tpc"'
        )
    )
    code, out, err = run("-f", str(path), "validate")
    assert (code, out) == (2, "")
    assert err.splitlines() == [
        f"{path}:10:5: error[unknown-key]: services.db.enviroment: unknown key 'enviroment'",
        "  hint: did you mean 'environment'?",
        f"{path}:11:13: error[invalid-port]: services.db.ports[0]: '54321:5432/tpc' is not a port mapping",
        "  hint: write [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp], e.g. '8080:80' or '53:53/udp'",
        f"{path}: 2 errors",
    ]


def test_validate_json_is_machine_readable(tmp_path: Path) -> None:
    path = tmp_path / "envkit.yaml"
    path.write_text(STACK.replace("{{ port }}", "{{ prot }}"))
    code, out, _ = run("-f", str(path), "validate", "--json")
    data = json.loads(out)
    assert code == 2
    assert data["valid"] is False and data["format_version"] == 1
    assert [(e["code"], e["path"], e["line"], e["column"]) for e in data["errors"]] == [
        ("undefined-variable", "services.db.ports[0]", 11, 13)
    ]


def test_validate_named_unknown_environment(stack: Path) -> None:
    code, _, err = run("-f", str(stack), "validate", "prod")
    assert code == 2
    assert "error[unknown-environment]: environments: unknown environment 'prod'" in err
    assert "hint: environments: dev, test" in err


def test_render_json_masks_secrets_everywhere(stack: Path) -> None:
    code, out, err = run("-f", str(stack), "render", "dev", "--json")
    assert code == 0, err
    data = json.loads(out)
    db = data["services"]["db"]
    assert data["project"] == "shop-dev"
    assert db["environment"] == {"MODE": "dev", "MYSQL_ROOT_PASSWORD": "(sensitive)"}
    assert db["ports"] == [
        {
            "target": 3306,
            "protocol": "tcp",
            "host_ip": "127.0.0.1",
            "published": 3307,
            "published_last": None,
        }
    ]
    assert "hunter2" not in out + err


def test_render_explain_names_layer_and_origin(stack: Path) -> None:
    code, out, _ = run("-f", str(stack), "render", "test", "--explain", "--var", "extra=1")
    assert code == 0
    assert out.splitlines() == [
        "VARIABLE     VALUE        LAYER             FROM",
        f"db_password  (sensitive)  stack vars        {stack}:3:16",
        f"port         3308         environment vars  {stack}:6:23",
        "extra        1            --var             -",
    ]


def test_secret_from_var_never_printed_even_in_errors(stack: Path) -> None:
    # The password lands in a port string: the error quoting the value must not leak it.
    path = stack.parent / "leak.yaml"
    path.write_text(STACK.replace("{{ port }}", "{{ port }}{{ db_password }}"))
    code, out, err = run("-f", str(path), "validate")
    assert code == 2
    assert "hunter2" not in out + err
    assert "(sensitive)" in err


@pytest.mark.parametrize(
    ("argv", "code", "needle"),
    [
        ((), 2, "usage: envkit"),
        (("render",), 2, "error[usage]: no environment given, and the stack has 2: dev, test"),
        (("-f", "/nonexistent/envkit.yaml", "validate"), 2, "error[unreadable]"),
        (("up", "dev", "--timeout", "soon"), 2, "error[usage]: argument --timeout"),
        (("render", "dev", "--var", "novalue"), 2, "expected KEY=VALUE"),
        (
            ("render", "dev", "--instance", "Bad/Id"),
            2,
            "error[invalid-instance]: --instance 'Bad/Id'",
        ),
    ],
)
def test_bad_command_lines_are_usage_errors_without_traceback(
    stack: Path, argv: tuple[str, ...], code: int, needle: str
) -> None:
    full = argv if not argv or argv[0] == "-f" else ("-f", str(stack), *argv)
    got, _, err = run(*full)
    assert got == code
    assert needle in err
    assert "Traceback" not in err


def test_debug_shows_the_traceback(stack: Path) -> None:
    code, _, err = run("-f", str(stack), "--debug", "render", "prod")
    assert code == 2
    assert "Traceback (most recent call last)" in err
    assert "error[unknown-environment]" in err

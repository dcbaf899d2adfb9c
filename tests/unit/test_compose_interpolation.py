"""Compose's ${VAR} in Compose files, Jinja in envkit stack files: each string is read by the
language of the file it was written in (envkit.stackfile.composevars)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from envkit.cli import main
from envkit.errors import StackError
from envkit.stackfile.pipeline import read, resolve

COMPOSE = """\
services:
  web:
    image: "busybox:${TAG:-latest}"
    ports: ["127.0.0.1:${PORT:-8080}:80"]
    privileged: ${PRIV:-false}
    environment:
      LIT: "cost $$5"
      PW: ${DB_PASSWORD}
    labels:
      tmpl: "{{ .Name }}"
    healthcheck: {test: "check --password=${DB_PASSWORD}"}
"""


def _resolve(path: Path, environ: dict[str, str], **kw: object):  # type: ignore[no-untyped-def]
    return resolve(read(path), "default", environ=environ, **kw)  # type: ignore[arg-type]


def test_compose_values_are_interpolated_as_compose_does(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    (tmp_path / ".env").write_text("TAG=1.36\nPORT=9999\n")
    r = _resolve(path, {"PRIV": "true", "DB_PASSWORD": "hunter2-xyz"})
    (web,) = r.desired.services
    assert web.image == "busybox:1.36"  # from .env
    assert [(p.host_ip, p.published) for p in web.ports] == [("127.0.0.1", 9999)]
    assert web.privileged is True  # Compose's cast of an interpolated boolean
    assert dict(web.environment)["LIT"] == "cost $5"
    assert dict(web.labels)["tmpl"] == "{{ .Name }}"  # a Go template, not Jinja
    # the secret variable's value is masked wherever it landed (by value)
    assert "hunter2-xyz" in r.desired.sensitive_values
    assert r.rendered.warnings == ()


def test_the_shell_wins_over_dotenv_and_env_file_replaces_dotenv(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    (tmp_path / ".env").write_text("TAG=from-dotenv\nDB_PASSWORD=x\n")
    (tmp_path / "other.env").write_text("TAG=from-env-file\nDB_PASSWORD=x\n")
    assert _resolve(path, {"TAG": "shell"}).desired.services[0].image == "busybox:shell"
    got = _resolve(path, {}, env_files=[str(tmp_path / "other.env")])
    assert got.desired.services[0].image == "busybox:from-env-file"


def test_unset_variables_warn_with_their_location(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    r = _resolve(path, {})
    [warning] = r.rendered.warnings
    assert warning.code == "unset-variable"
    assert str(warning.origin) == f"{path}:8:11"
    assert warning.path == ("services", "web", "environment", "PW")


@pytest.mark.parametrize(
    ("value", "code", "where", "message"),
    [
        ("${A:?A is required}", "missing-required-variable", "4:11", "A is required"),
        ("${BAD", "invalid-interpolation", "4:11", "invalid interpolation format"),
    ],
)
def test_interpolation_errors_are_located(
    tmp_path: Path, value: str, code: str, where: str, message: str
) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(f"services:\n  web:\n    image: busybox\n    user: '{value}'\n")
    with pytest.raises(StackError) as info:
        _resolve(path, {})
    (d,) = info.value.diagnostics
    assert d.code == code and str(d.origin) == f"{path}:{where}" and message in d.message


def test_an_envkit_stack_file_keeps_dollar_literal_and_includes_interpolate(
    tmp_path: Path,
) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  api: {image: 'busybox:${TAG:-latest}', user: '${U:-1000}'}\n"
    )
    path = tmp_path / "envkit.yaml"
    path.write_text(
        "stack: s\n"
        "include: [compose.yaml]\n"
        "environments: {dev: {}}\n"
        "services:\n"
        "  db:\n"
        "    image: busybox\n"
        "    environment: {PASSWORD: 'pa$word', HOME_DIR: '${HOME}', MODE: '{{ environment }}'}\n"
    )
    r = resolve(read(path), "dev", environ={"TAG": "9", "HOME": "/root"})
    services = {s.name: s for s in r.desired.services}
    assert services["api"].image == "busybox:9" and services["api"].user == "1000"
    env = dict(services["db"].environment)
    assert env == {"PASSWORD": "pa$word", "HOME_DIR": "${HOME}", "MODE": "dev"}


def test_validate_prints_unset_variable_warnings_and_stays_valid(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.pop("DB_PASSWORD", None)
    try:
        code = main(["-f", str(path), "validate"], stdout=out, stderr=err)
    finally:
        if saved is not None:
            os.environ["DB_PASSWORD"] = saved
    assert code == 0, err.getvalue()
    assert "warning[unset-variable]: services.web.environment.PW: the DB_PASSWORD" in err.getvalue()


def test_a_fifo_as_dotenv_is_refused_not_read(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text("services:\n  web: {image: 'busybox:${TAG:-x}'}\n")
    os.mkfifo(tmp_path / ".env")
    with pytest.raises(StackError) as info:
        _resolve(path, {})
    assert info.value.diagnostics[0].code == "unreadable-env-file"
    assert "not a regular file" in info.value.diagnostics[0].message

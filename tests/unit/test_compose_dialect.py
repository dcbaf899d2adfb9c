"""A Compose file is a stack file: dialect, stack name, implicit environment, no Jinja."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from envkit.cli import main
from envkit.errors import StackError
from envkit.stackfile import read, resolve
from envkit.stackfile.dialect import Dialect, dialect_of, normalize_project_name, stack_name

COMPOSE = """\
version: "3.8"
services:
  web:
    image: envkit-test/busybox:latest
    command: ["sleep", "3600"]
    labels:
      traefik.rule: "Host(`{{ .Name }}`)"
    x-note: ignored
x-common: &common {restart: always}
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("data", "dialect"),
    [
        ({"services": {}}, Dialect.COMPOSE),
        ({"name": "x", "version": "3", "services": {}}, Dialect.COMPOSE),
        ({"stack": "x"}, Dialect.ENVKIT),
        ({"services": {}, "environments": {}}, Dialect.ENVKIT),
        ({"services": {}, "vars": {}}, Dialect.ENVKIT),
        ({"services": {}, "sensitive": []}, Dialect.ENVKIT),
    ],
)
def test_a_file_is_envkit_only_with_an_envkit_only_key(
    data: dict[str, object], dialect: Dialect
) -> None:
    assert dialect_of(data) is dialect


@pytest.mark.parametrize(
    ("folder", "name"),
    [
        ("myapp", "myapp"),
        ("My_App.v2", "my_appv2"),
        ("__-Hello World-", "helloworld-"),
        ("über-app", "ber-app"),
        ("...", ""),
    ],
)
def test_folder_names_are_normalised_as_compose_does(folder: str, name: str) -> None:
    assert normalize_project_name(folder) == name


def test_stack_name_is_stack_then_name_then_folder() -> None:
    folder = Path("/x/Shop Front")
    assert stack_name({"stack": "a", "name": "b"}, folder) == "a"
    assert stack_name({"name": "b"}, folder) == "b"
    assert stack_name({}, folder) == "shopfront"


def test_an_unchanged_compose_file_resolves_in_the_implicit_environment(tmp_path: Path) -> None:
    folder = tmp_path / "Web.App"
    folder.mkdir()
    (folder / "compose.yaml").write_text(COMPOSE)
    doc = read(folder / "compose.yaml")
    desired = resolve(doc, "default", environ={}).desired
    assert (desired.stack, desired.environment, desired.project) == (
        "webapp",
        "default",
        "webapp-default",
    )
    (web,) = desired.services
    # {{ is not Jinja in a Compose file: the Go template stays as written.
    assert dict(web.labels)["traefik.rule"] == "Host(`{{ .Name }}`)"


def test_compose_name_names_the_stack(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("name: shop\n" + COMPOSE)
    assert resolve(read(tmp_path / "compose.yaml"), "default", environ={}).desired.project == (
        "shop-default"
    )


def test_a_folder_without_a_usable_name_asks_for_name(tmp_path: Path) -> None:
    folder = tmp_path / "..."
    folder.mkdir()
    (folder / "compose.yaml").write_text(COMPOSE)
    with pytest.raises(StackError) as caught:
        resolve(read(folder / "compose.yaml"), "default", environ={})
    assert caught.value.diagnostics[0].code == "missing-stack"
    assert "add 'name: NAME'" in str(caught.value.diagnostics[0].hint)


def test_jinja_still_renders_in_an_envkit_stack_file(tmp_path: Path) -> None:
    (tmp_path / "envkit.yaml").write_text(
        "stack: s\nvars: {tag: latest}\nservices:\n  web:\n"
        "    image: 'envkit-test/busybox:{{ tag }}'\n"
    )
    desired = resolve(read(tmp_path / "envkit.yaml"), "default", environ={}).desired
    assert desired.services[0].image == "envkit-test/busybox:latest"


def test_cli_validate_render_need_no_env_for_a_compose_file(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE)
    assert run("-f", str(path), "validate") == (0, f"{path}: valid (default)\n", "")
    code, out, err = run("-f", str(path), "render", "--json")
    assert (code, err) == (0, "")
    assert '"environment": "default"' in out


def test_cli_without_env_lists_the_environments_when_there_are_several(tmp_path: Path) -> None:
    path = tmp_path / "envkit.yaml"
    path.write_text("stack: s\nenvironments: {dev: {}, test: {}}\nservices: {}\n")
    code, out, err = run("-f", str(path), "plan")
    assert (code, out) == (2, "")
    assert err == (
        "error[usage]: no environment given, and the stack has 2: dev, test\n"
        "  hint: e.g. 'envkit plan dev'\n"
    )


def test_unsupported_compose_keys_get_their_own_message(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(COMPOSE + "models:\n  llm: {model: ai/smollm2}\n")
    code, _, err = run("-f", str(path), "validate")
    assert code == 2
    assert err.splitlines()[0] == (
        f"{path}:10:1: error[unsupported-compose-key]: models: Compose key 'models' is not"
        " supported by envkit"
    )

"""``name: ${VAR}`` at the top of a Compose file: interpolated like every Compose value,
then normalised as compose-go does (``loader.projectName`` / ``NormalizeProjectName``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envkit.errors import StackError
from envkit.stackfile.pipeline import read

SERVICE = "services:\n  web:\n    image: busybox\n"


def _read(
    folder: Path, text: str, environ: dict[str, str], env_files: list[str] | None = None
) -> str:
    (folder / "compose.yaml").write_text(text + SERVICE)
    return read(folder / "compose.yaml", environ=environ, env_files=env_files or ()).stack_name


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("shop", "shop"),
        ("My_Shop.v2", "my_shopv2"),  # lowercased, other characters dropped
        ("-_-x", "x"),  # leading '-' and '_' dropped
        ("feature/ABC-12", "featureabc-12"),
        ("", "proj"),  # nothing left: the folder's name, as compose-go falls back to it
        ("../..;$(rm -rf /)", "rm-rf"),
    ],
)
def test_the_name_is_interpolated_then_normalised(
    tmp_path: Path, value: str, expected: str
) -> None:
    folder = tmp_path / "Proj"
    folder.mkdir()
    assert _read(folder, "name: ${NAME}\n", {"NAME": value}) == expected


def test_defaults_dotenv_and_env_file(tmp_path: Path) -> None:
    assert _read(tmp_path, "name: ${NAME:-fallback}\n", {}) == "fallback"
    (tmp_path / ".env").write_text("NAME=fromdotenv\n")
    assert _read(tmp_path, "name: app-${NAME}\n", {}) == "app-fromdotenv"
    assert _read(tmp_path, "name: app-${NAME}\n", {"NAME": "env"}) == "app-env"  # env wins
    (tmp_path / "other.env").write_text("NAME=other\n")
    other = str(tmp_path / "other.env")
    assert _read(tmp_path, "name: ${NAME}\n", {}, env_files=[other]) == "other"
    assert _read(tmp_path, "name: $${NAME}x\n", {}) == "namex"  # $$ is a literal '$'


def test_a_required_variable_is_a_located_error(tmp_path: Path) -> None:
    with pytest.raises(StackError) as caught:
        _read(tmp_path, "name: ${NAME:?name the project}\n", {})
    [problem] = caught.value.diagnostics
    assert problem.code == "missing-required-variable"
    assert problem.origin is not None and (problem.origin.line, problem.origin.col) == (1, 7)
    assert "name the project" in problem.message


def test_a_literal_name_is_still_checked_and_an_envkit_file_keeps_its_dollar(
    tmp_path: Path,
) -> None:
    with pytest.raises(StackError, match="is not a valid project name"):
        _read(tmp_path, "name: My App\n", {})
    (tmp_path / "envkit.yaml").write_text("stack: shop\nname: ${NAME}\n" + SERVICE)
    with pytest.raises(StackError, match="is not a valid project name"):
        read(tmp_path / "envkit.yaml", environ={"NAME": "x"})

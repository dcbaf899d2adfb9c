"""read_env_files with Compose's rules (compose_lookup) next to its python-dotenv rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from envkit.errors import Origin, StackError
from envkit.stackfile.envfiles import EnvFileProblem, EnvFileValue, read_env_files

TEXT = "BARE\nREF=${FROM_PROJECT}-${A:-d}\nA=1\nDQ=\"$A\"\nSQ='$A'\n"


def test_compose_rules_interpolate_and_fill_bare_names(tmp_path: Path) -> None:
    (tmp_path / "svc.env").write_text(TEXT, encoding="utf-8")
    files = read_env_files(
        ["svc.env"],
        ("services", "s", "env_file"),
        tmp_path,
        compose_lookup={"BARE": "from shell", "FROM_PROJECT": "p"},
    )
    assert files.problems == ()
    assert {k: v.value for k, v in files.values.items()} == {
        "BARE": "from shell",
        "REF": "p-d",
        "A": "1",
        "DQ": "1",
        "SQ": "$A",
    }
    assert files.values["A"] == EnvFileValue("1", Origin("svc.env", 3, 1))


def test_later_files_see_earlier_values(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text("HOST=localhost\n", encoding="utf-8")
    (tmp_path / "b.env").write_text("URL=http://${HOST}\nHOST=other\n", encoding="utf-8")
    files = read_env_files(["a.env", "b.env"], ("env_file",), tmp_path, compose_lookup={})
    assert {k: v.value for k, v in files.values.items()} == {
        "HOST": "other",
        "URL": "http://localhost",
    }


def test_compose_syntax_errors_are_problems(tmp_path: Path) -> None:
    (tmp_path / "bad.env").write_text('OK=1\nPW="hunter2\n', encoding="utf-8")
    files = read_env_files(["bad.env"], ("env_file",), tmp_path, compose_lookup={})
    assert files.problems == (
        EnvFileProblem(
            "invalid-env-file-syntax",
            "bad.env:2:4: the quoted value of PW is not terminated",
            ("env_file", 0),
            'close the value with ", or escape a " inside it as \\"',
        ),
    )


def test_without_compose_lookup_nothing_changes(tmp_path: Path) -> None:
    (tmp_path / "svc.env").write_text(TEXT, encoding="utf-8")
    files = read_env_files("svc.env", ("env_file",), tmp_path)
    assert {k: v.value for k, v in files.values.items()} == {
        "REF": "${FROM_PROJECT}-${A:-d}",
        "A": "1",
        "DQ": "$A",
        "SQ": "$A",
    }


def _environment(folder: Path, stack: str, environ: dict[str, str]) -> dict[str, str]:
    from envkit.stackfile.pipeline import read, resolve

    doc = read(folder / stack, environ=environ)
    [service] = resolve(doc, "default", environ=environ).desired.services
    return dict(service.environment)


APP_ENV = (
    "A=${SHELLVAR}\n"
    'B="${SHELLVAR}-dq"\n'
    "C='${SHELLVAR}-sq'\n"
    "D=$SHELLVAR\n"
    "SHELLVAR\n"
    "E=${FROM_DOTENV}\n"
    "F=${A}-f\n"
    "G=${NOPE:-def}\n"
    "H=$$x\n"
)


def test_a_compose_services_env_file_is_interpolated_from_the_project(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("FROM_DOTENV=dot\n")
    (tmp_path / "app.env").write_text(APP_ENV)
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: busybox\n    env_file: [app.env]\n"
    )
    assert _environment(tmp_path, "compose.yaml", {"SHELLVAR": "sv"}) == {
        "A": "sv",
        "B": "sv-dq",
        "C": "${SHELLVAR}-sq",  # single-quoted: literal
        "D": "sv",
        "SHELLVAR": "sv",  # a bare name: the project's value
        "E": "dot",  # the project's .env is a project variable
        "F": "sv-f",
        "G": "def",
        "H": "$x",
    }


def test_an_envkit_stack_files_env_file_stays_literal(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("A=${SHELLVAR}\nSHELLVAR\n")
    (tmp_path / "envkit.yaml").write_text(
        "stack: shop\nservices:\n  web:\n    image: busybox\n    env_file: [app.env]\n"
    )
    assert _environment(tmp_path, "envkit.yaml", {"SHELLVAR": "sv"}) == {"A": "${SHELLVAR}"}


def test_a_missing_required_variable_in_an_env_file_is_located(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("OK=1\nX=${NOPE:?set NOPE}\n")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: busybox\n    env_file: app.env\n"
    )
    with pytest.raises(StackError) as caught:
        _environment(tmp_path, "compose.yaml", {})
    [problem] = caught.value.diagnostics
    assert problem.code == "missing-required-variable"
    assert "app.env:2:3" in problem.message and "set NOPE" in problem.message
    assert problem.origin is not None and problem.origin.line == 4

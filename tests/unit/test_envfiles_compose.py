"""read_env_files with Compose's rules (compose_lookup) next to its python-dotenv rules."""

from __future__ import annotations

from pathlib import Path

from envkit.errors import Origin
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

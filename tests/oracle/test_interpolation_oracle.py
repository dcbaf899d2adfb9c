"""Differential: envkit's Compose interpolation and env files against docker-compose 1.29.2.

Small Compose files go through ``docker-compose config`` (tests/compose_oracle.py) and
through :mod:`envkit.stackfile.interpolation_tree` / :mod:`envkit.stackfile.composeenv` with the same
variables. Where 1.29.2 and the Compose Specification agree, the values must be equal;
where they differ (1.29.2 predates parts of the specification), the test pins both sides,
so a change on either shows up. ``config`` writes a ``$`` as ``$$``; :func:`_unescape`
undoes that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_oracle import compose_config

from envkit.errors import StackError
from envkit.stackfile.composeenv import dotenv_environment, parse_compose_env
from envkit.stackfile.interpolation_tree import interpolate_tree

SHELL = {"FOO": "first", "BAR": "", "JSON": '{"json":2}', "PW": "p@ss$word{}"}

# templates on which 1.29.2 and the specification agree
AGREE = [
    "$FOO",
    "${FOO}",
    "${BAR}",
    "${UNSET}",
    "This ${UNSET} var",
    "${UNSET:-def}",
    "${UNSET-def}",
    "${BAR:-def}",
    "${BAR-def}",
    "${FOO:-def}",
    "${FOO-def}",
    "${FOO:?err}",
    "${FOO?err}",
    "${BAR?err}",
    "$$FOO",
    "$${FOO}",
    "a $$ b",
    "$$",
    "$FOO-bar",
    "$FOO:-bar",
    "${FOO}x${FOO} $FOO",
    "ok ${UNSET:-/non:-alphanumeric}",
    "${UNSET-myerror?msg}",
    "${UNSET:-a b c}",
    "${UNSET:-}",
    "${PW}",  # a value's own "$" and braces are not interpolated again
    "${JSON}",
    "${foo}",  # names are case-sensitive
    "${_U_1:-x}",
    "mysql://${FOO}:${PW}@db:3306",
    # compose-go counts braces in a default, 1.29.2 stops at the first "}" and keeps the
    # rest: the same text either way
    "${UNSET:-{x}}",
    '${UNSET:-{"a":1}}',
]

# (template, what 1.29.2 gives, what the specification / compose-go / envkit give);
# an error is None
DIFFER = [
    ("${FOO:+alt}", None, "alt"),  # 1.29.2 has no :+ / +
    ("${UNSET+alt}", None, ""),
    ("${UNSET:-${FOO}}", "${FOO}", "first"),  # 1.29.2 does not nest: default ends at "}"
    ("a $ b", None, "a $ b"),  # the spec keeps any other "$"; 1.29.2 refuses it
    ("$1", None, "$1"),
    ("price 5$", None, "price 5$"),
]

ERRORS = [
    "${UNSET:?boom}",
    "${BAR:?boom}",
    "${UNSET?boom}",
    "${",
    "${FOO",
    "${FOO:x}",
    "${ FOO}",
    "${}",
]


def _unescape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, dict):
        return {k: _unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unescape(v) for v in value]
    return value


def _write(
    tmp_path: Path, environment: dict[str, str], files: dict[str, str] | None = None
) -> Path:
    project = tmp_path / "proj"
    project.mkdir()
    compose = {"services": {"s": {"image": "busybox", "environment": environment}}}
    (project / "compose.yaml").write_text(yaml.safe_dump(compose), encoding="utf-8")
    for name, text in (files or {}).items():
        (project / name).write_text(text, encoding="utf-8")
    return project / "compose.yaml"


def _oracle_environment(file: Path, env: dict[str, str]) -> dict[str, str] | None:
    result = compose_config(file, env)
    if not result.accepted:
        return None
    return _unescape(result.config["services"]["s"].get("environment", {}))


def _envkit(templates: dict[str, str], env: dict[str, str]) -> dict[str, Any]:
    tree = {"services": {"s": {"environment": templates}}}
    result = interpolate_tree(tree, env, lambda _p: None)
    if result.problems:
        return {"problems": [p.code for p in result.problems]}
    return result.root["services"]["s"]["environment"]


def test_values_agree_with_docker_compose(tmp_path: Path) -> None:
    templates = {f"V{i}": t for i, t in enumerate(AGREE)}
    oracle = _oracle_environment(_write(tmp_path, templates), SHELL)
    assert oracle is not None
    ours = _envkit(templates, SHELL)
    assert [(t, ours[k]) for k, t in templates.items()] == [
        (t, oracle[k]) for k, t in templates.items()
    ]


@pytest.mark.parametrize(("template", "compose_1_29", "spec"), DIFFER)
def test_documented_differences(
    tmp_path: Path, template: str, compose_1_29: str | None, spec: str
) -> None:
    oracle = _oracle_environment(_write(tmp_path, {"V": template}), SHELL)
    assert (oracle or {}).get("V") == compose_1_29
    assert _envkit({"V": template}, SHELL) == {"V": spec}


@pytest.mark.parametrize("template", ERRORS)
def test_both_refuse(tmp_path: Path, template: str) -> None:
    result = compose_config(_write(tmp_path, {"V": template}), SHELL)
    assert not result.accepted
    expected = "Missing mandatory value" if "boom" in template else "Invalid interpolation format"
    assert expected in result.stderr
    ours = _envkit({"V": template}, SHELL)
    code = "missing-required-variable" if "boom" in template else "invalid-interpolation"
    assert ours == {"problems": [code]}


# --- env files ---------------------------------------------------------------------------

DOTENV = """\
# a comment
PLAIN=plain value
export EXPORTED=1
SPACED = padded<TRAILING>
COMMENTED=value # comment
HASH=a#b
DQ="double quoted"
SQ='single $PLAIN ${PLAIN}'
REF=${PLAIN}
DQREF="x ${PLAIN} y"
DEFAULTED=${NOT_SET:-fallback}
EMPTY=
COLON: yaml style
""".replace("<TRAILING>", "   ")

SVC_ENV = """\
SHELL_VAR
NOT_IN_SHELL
S_PLAIN=svc
S_SQ='$literal'
S_REF=${S_PLAIN}-2
"""


def test_env_files_agree_with_docker_compose(tmp_path: Path) -> None:
    names = [
        "PLAIN",
        "EXPORTED",
        "SPACED",
        "COMMENTED",
        "HASH",
        "DQ",
        "REF",
        "DQREF",
        "DEFAULTED",
        "EMPTY",
    ]
    environment = {n: f"${{{n}}}" for n in [*names, "SQ", "COLON"]}
    file = _write(tmp_path, environment, {".env": DOTENV, "svc.env": SVC_ENV})
    compose = yaml.safe_load(file.read_text())
    compose["services"]["s"]["env_file"] = ["svc.env"]
    file.write_text(yaml.safe_dump(compose))
    shell = {"SHELL_VAR": "from shell"}
    oracle = _oracle_environment(file, shell)
    assert oracle is not None

    project = dotenv_environment(shell, [(".env", DOTENV)])
    assert {n: project.values[n] for n in names} == {n: oracle[n] for n in names}
    # where 1.29.2's python-dotenv differs from the specification's Env_file format:
    # it interpolates single-quoted values and knows no "NAME: value" lines
    assert (project.values["SQ"], oracle["SQ"]) == (
        "single $PLAIN ${PLAIN}",
        "single $PLAIN plain value",
    )
    assert (project.values["COLON"], oracle["COLON"]) == ("yaml style", "")
    service = parse_compose_env(SVC_ENV, "svc.env", project.values)
    ours = {name: value.value for name, value in service.items()}
    assert ours == {k: oracle[k] for k in ("SHELL_VAR", "S_PLAIN", "S_SQ", "S_REF")}
    # unset in the shell: envkit leaves it out, 1.29.2 writes "NOT_IN_SHELL: null" (which
    # its container then does not get either)
    assert "NOT_IN_SHELL" not in ours and oracle["NOT_IN_SHELL"] is None


def test_env_file_interpolation_sees_dotenv_in_compose_v2_only(tmp_path: Path) -> None:
    # 1.29.2 interpolates a service env_file with the shell only; compose-go (and envkit)
    # with the project's variables, .env included
    file = _write(tmp_path, {"X": "1"}, {".env": "A=from-dotenv\n", "svc.env": 'F="f ${A}"\n'})
    compose = yaml.safe_load(file.read_text())
    compose["services"]["s"]["env_file"] = ["svc.env"]
    file.write_text(yaml.safe_dump(compose))
    oracle = _oracle_environment(file, {})
    assert oracle is not None and oracle["F"] == "f "
    project = dotenv_environment({}, [(".env", "A=from-dotenv\n")])
    assert (
        parse_compose_env('F="f ${A}"\n', "svc.env", project.values)["F"].value == "f from-dotenv"
    )


def test_unterminated_quote_is_refused_as_compose_go_does(tmp_path: Path) -> None:
    # python-dotenv (1.29.2) skips a line it cannot parse, with a warning; compose-go
    # refuses the file ("unterminated quoted value"), and so does envkit
    text = 'A="unterminated\nB=2\n'
    oracle = _oracle_environment(_write(tmp_path, {"X": "${A}", "Y": "${B}"}, {".env": text}), {})
    assert oracle == {"X": "", "Y": "2"}
    with pytest.raises(StackError) as caught:
        dotenv_environment({}, [(".env", text)])
    assert caught.value.message == "the quoted value of A is not terminated"  # never the value
    assert str(caught.value.origin) == ".env:1:3"

"""render(): variables and their precedence, env files, overrides, Jinja2, secrets."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from envkit.errors import Origin, StackError
from envkit.stackfile.document import Document, parse
from envkit.stackfile.render import merge, parse_cli_value, render
from envkit.stackfile.rendered import Rendered


def load(tmp_path: Path, text: str) -> Document:
    return parse(textwrap.dedent(text), path=tmp_path / "envkit.yaml", display="envkit.yaml")


def rendered(tmp_path: Path, text: str, env: str = "dev", **kwargs: Any) -> Rendered:
    kwargs.setdefault("environ", {})
    return render(load(tmp_path, text), env, **kwargs)


def failure(tmp_path: Path, text: str, env: str = "dev", **kwargs: Any) -> str:
    with pytest.raises(StackError) as caught:
        rendered(tmp_path, text, env, **kwargs)
    return caught.value.render()


def image_of(r: Rendered, service: str = "a") -> Any:
    return r.tree["services"][service]["image"]


LAYERS = """
stack: shop
vars: {a: stack, b: stack, c: stack}
environments:
  dev: {vars: {b: env, c: env}}
services:
  a: {image: "{{ a }}-{{ b }}-{{ c }}"}
"""


def test_precedence_stack_vars_then_environment_vars_then_cli(tmp_path: Path) -> None:
    assert image_of(rendered(tmp_path, LAYERS)) == "stack-env-env"
    r = rendered(tmp_path, LAYERS, cli_vars={"c": "cli"})
    assert image_of(r) == "stack-env-cli"
    layers = {v.name: (v.layer, v.origin) for v in r.variables}
    assert layers == {
        "a": ("stack vars", Origin("envkit.yaml", 3, 11)),
        "b": ("environment vars", Origin("envkit.yaml", 5, 19)),
        "c": ("--var", None),
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [("3310", 3310), ("-1", -1), ("0", 0), ("true", True), ("false", False),
     ("007", "007"), ("1.5", "1.5"), ("True", "True"), ("a=b", "a=b"), ("", "")],
)  # fmt: skip
def test_cli_values_int_and_bool_literals_are_typed(text: str, value: Any) -> None:
    assert parse_cli_value(text) == value
    assert type(parse_cli_value(text)) is type(value)


NATIVE = """
stack: s
vars: {port: 3307, flag: true, ratio: 0.5, name: db, nothing: null}
environments: {dev: {}}
services:
  a:
    image: x
    labels:
      int: "{{ port }}"
      spaced: "  {{ port + 1 }}  "
      bool: "{{ flag }}"
      float: "{{ ratio }}"
      none: "{{ nothing }}"
      mixed: "{{ port }}:3306"
      two: "{{ port }}{{ port }}"
      str: "{{ name }}"
      plain: "{ not a template }"
      env: "{{ environment }}/{{ instance }}/{{ stack }}/{{ vars.port }}"
"""


def test_a_lone_expression_keeps_its_native_type(tmp_path: Path) -> None:
    labels = rendered(tmp_path, NATIVE, instance="ci7").tree["services"]["a"]["labels"]
    assert labels == {
        "int": 3307,
        "spaced": 3308,
        "bool": True,
        "float": 0.5,
        "none": None,
        "mixed": "3307:3306",
        "two": "33073307",
        "str": "db",
        "plain": "{ not a template }",
        "env": "dev/ci7/s/3307",
    }


def test_a_value_with_colons_and_newlines_stays_one_string(tmp_path: Path) -> None:
    text = """
    stack: s
    environments: {dev: {}}
    services:
      a:
        image: x
        environment: {DB_PASSWORD: "{{ pw }}"}
    """
    evil = 'a": b\nrestart: always\nprivileged: true\n'
    a = rendered(tmp_path, text, cli_vars={"pw": evil}).tree["services"]["a"]
    assert a == {"image": "x", "environment": {"DB_PASSWORD": evil}}


def test_the_tree_has_stack_services_and_the_top_level_resources_only(tmp_path: Path) -> None:
    text = "stack: s\nvars: {v: 1}\nenvironments: {dev: {}}\nservices: {a: {image: x}}\n"
    assert rendered(tmp_path, text).tree == {
        "stack": "s",
        "services": {"a": {"image": "x"}},
        "volumes": {},
        "networks": {},
        "secrets": {},
        "configs": {},
    }


TOO_EXPENSIVE_HINT = (
    "\n  hint: templates compute short values; loops, ranges and sizes are bounded (range()"
    " 10,000 items, 1,000,000 steps, 5s, 1,000,000 characters)"
)

ERRORS = [
    (
        "{{ prot }}",
        "envkit.yaml:4:23: error[undefined-variable]: services.a.image: undefined variable"
        " 'prot' in '{{ prot }}'\n  hint: did you mean 'port'? defined variables: port",
    ),
    (
        "{{ vars.prot }}",
        "envkit.yaml:4:23: error[undefined-variable]: services.a.image: undefined variable"
        " 'vars.prot' in '{{ vars.prot }}'\n  hint: did you mean 'vars.port'? defined"
        " variables: port",
    ),
    (
        "{{ env.HOMR }}",
        "envkit.yaml:4:23: error[undefined-variable]: services.a.image: environment variable"
        " 'HOMR' is not set (used in '{{ env.HOMR }}')\n  hint: did you mean 'env.HOME'? set"
        " HOMR in the process environment or in an env_file of environment 'dev', or use"
        " {{ env.HOMR | default('') }}",
    ),
    (
        "{{ port + }}",
        "envkit.yaml:4:23: error[template-syntax]: services.a.image: '{{ port + }}':"
        " unexpected 'end of print statement'",
    ),
    (
        "x{% if port %}",
        "envkit.yaml:4:23: error[template-syntax]: services.a.image: 'x{% if port %}':"
        " Unexpected end of template. Jinja was looking for the following tags: 'elif' or"
        " 'else' or 'endif'. The innermost block that needs to be closed is 'if'.",
    ),
    (
        "{{ ''.__class__.__mro__ }}",
        "envkit.yaml:4:23: error[template-error]: services.a.image: '{{ ''.__class__.__mro__"
        " }}': access to attribute '__class__' of 'str' object is unsafe.",
    ),
    (
        "{{ port.__class__ }}",
        "envkit.yaml:4:23: error[template-error]: services.a.image: '{{ port.__class__ }}':"
        " access to attribute '__class__' of 'int' object is unsafe.",
    ),
    (
        "{{ 9 ** 99999 }}",
        "envkit.yaml:4:23: error[template-too-expensive]: services.a.image: '{{ 9 ** 99999 }}':"
        " exponent 99999 is too large" + TOO_EXPENSIVE_HINT,
    ),
    (
        "{{ 'x' * 10000000 }}",
        "envkit.yaml:4:23: error[template-too-expensive]: services.a.image:"
        " '{{ 'x' * 10000000 }}': the result would be longer than 1,000,000 characters or items"
        + TOO_EXPENSIVE_HINT,
    ),
    (
        "{{ port / 0 }}",
        "envkit.yaml:4:23: error[template-error]: services.a.image: '{{ port / 0 }}':"
        " division by zero",
    ),
    (
        "{{ [port] }}",
        "envkit.yaml:4:23: error[template-error]: services.a.image: '{{ [port] }}' gives a"
        " list; a value can only become a string, number, boolean or null\n  hint: to embed"
        " it as text, add text around it or use '| string'",
    ),
]


@pytest.mark.parametrize(("template", "expected"), ERRORS)
def test_template_errors_are_located_and_named(
    tmp_path: Path, template: str, expected: str
) -> None:
    text = f'stack: s\nvars: {{port: 1}}\nenvironments: {{dev: {{}}}}\nservices: {{a: {{image: "{template}"}}}}\n'
    assert failure(tmp_path, text, environ={"HOME": "/root"}) == expected


def test_every_template_error_is_reported_at_once(tmp_path: Path) -> None:
    text = """
    stack: s
    environments: {dev: {}}
    services:
      a: {image: "{{ one }}", user: "{{ 1 + }}"}
    volumes:
      data: {driver: "{{ two }}"}
    """
    out = failure(tmp_path, text)
    assert [line.split(" error")[0] for line in out.splitlines() if "error[" in line] == [
        "envkit.yaml:5:14:",
        "envkit.yaml:5:33:",
        "envkit.yaml:7:18:",
    ]


def test_vars_and_environments_are_not_templated(tmp_path: Path) -> None:
    text = """
    stack: s
    vars: {a: "{{ b }}"}
    environments: {dev: {}}
    services: {a: {image: "{{ a }}"}}
    """
    assert image_of(rendered(tmp_path, text)) == "{{ b }}"


def test_unknown_environment_lists_the_environments(tmp_path: Path) -> None:
    text = "stack: s\nenvironments:\n  dev: {}\n  test: {}\nservices: {a: {image: x}}\n"
    assert failure(tmp_path, text, "tset") == (
        "envkit.yaml:2:1: error[unknown-environment]: environments: unknown environment 'tset'\n"
        "  hint: did you mean 'test'? environments: dev, test"
    )


def test_an_override_of_a_service_that_does_not_exist(tmp_path: Path) -> None:
    text = """
    stack: s
    environments: {dev: {services: {wbe: {image: y}}}}
    services: {web: {image: x}}
    """
    assert failure(tmp_path, text) == (
        "envkit.yaml:3:38: error[unknown-service]: environments.dev.services.wbe: environment"
        " 'dev' overrides service 'wbe', which does not exist\n  hint: did you mean 'web'?"
    )


# -- env files ---------------------------------------------------------------------------

ENV_FILES = """
stack: s
environments:
  dev:
    env_file:
      - .env
      - {path: .env.local, required: false}
      - conf/.env.dev
services:
  a: {image: "{{ env.A }}-{{ env.B }}-{{ env.C }}"}
"""


def test_env_files_layer_in_order_and_the_process_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / ".env").write_text("A=1\nB=1\nC=1\n")
    (tmp_path / "conf" / ".env.dev").write_text("# comment\nexport B=2\nC=2\n")
    r = rendered(tmp_path, ENV_FILES, environ={"C": "shell"})
    assert image_of(r) == "1-2-shell"
    explained = {v.name: (v.value, v.layer, v.origin) for v in r.variables}
    assert explained == {
        "env.A": ("1", "env file", Origin(".env", 1, 1)),
        "env.B": ("2", "env file", Origin("conf/.env.dev", 2, 1)),
        "env.C": ("shell", "process environment", None),
    }


def test_env_file_paths_are_relative_to_the_stack_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / ".env").write_text("A=a\nB=b\nC=c\n")
    (tmp_path / "conf" / ".env.dev").write_text("")
    monkeypatch.chdir("/")
    assert image_of(rendered(tmp_path, ENV_FILES)) == "a-b-c"


def test_a_missing_env_file_is_an_error_unless_optional(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\nB=1\nC=1\n")
    assert failure(tmp_path, ENV_FILES) == (
        "envkit.yaml:8:9: error[missing-env-file]: environments.dev.env_file[2]: env file"
        " 'conf/.env.dev' does not exist\n"
        "  hint: create it, or mark it optional: {path: conf/.env.dev, required: false}"
    )


def test_an_env_file_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()
    text = "stack: s\nenvironments: {dev: {env_file: .env}}\nservices: {a: {image: x}}\n"
    assert failure(tmp_path, text) == (
        "envkit.yaml:2:32: error[unreadable-env-file]: environments.dev.env_file: env file"
        " '.env' cannot be read: Is a directory"
    )


# -- overrides ---------------------------------------------------------------------------

OVERRIDES = """
stack: s
environments:
  dev: {}
  release:
    services:
      db:
        restart: always
        ports: ["3306:3306"]
        environment: {B: two, C: null}
        healthcheck: {retries: 5}
services:
  db:
    image: mysql
    ports: ["3307:3306", "33060:33060"]
    environment: {A: one, B: one, C: one}
    healthcheck: {test: [CMD, true], retries: 30}
"""


def test_overrides_merge_mappings_replace_lists_and_null_deletes(tmp_path: Path) -> None:
    dev = rendered(tmp_path, OVERRIDES, "dev")
    release = rendered(tmp_path, OVERRIDES, "release")
    assert "restart" not in dev.tree["services"]["db"]
    assert release.tree["services"]["db"] == {
        "image": "mysql",
        "ports": ["3306:3306"],
        "environment": {"A": "one", "B": "two"},
        "healthcheck": {"test": ["CMD", True], "retries": 5},
        "restart": "always",
    }


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("services", "db", "image"), 14),
        (("services", "db", "restart"), 8),
        (("services", "db", "ports", 0), 9),
        (("services", "db", "ports", 1), 9),  # the override's list replaced it
        (("services", "db", "environment", "A"), 16),
        (("services", "db", "environment", "B"), 10),
        (("services", "db", "healthcheck", "retries"), 11),
        (("services", "db", "healthcheck", "test", 0), 17),
    ],
)
def test_origins_point_where_each_merged_value_came_from(
    tmp_path: Path, path: tuple[str | int, ...], line: int
) -> None:
    origin = rendered(tmp_path, OVERRIDES, "release").origin(path)
    assert origin is not None and origin.line == line


@pytest.mark.parametrize(
    ("base", "override", "merged"),
    [
        ({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}, {"a": {"b": 1, "c": 3}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
        ({"a": {"b": 1}}, {"a": "x"}, {"a": "x"}),
        ({}, {"a": {"b": None, "c": 1}}, {"a": {"c": 1}}),
    ],
)
def test_merge_rules(base: Any, override: Any, merged: Any) -> None:
    assert merge(base, override) == merged


def test_an_empty_override_changes_nothing(tmp_path: Path) -> None:
    text = "stack: s\nenvironments: {dev: {services: {a: }}}\nservices: {a: {image: x}}\n"
    assert rendered(tmp_path, text).tree["services"] == {"a": {"image": "x"}}


# -- secrets -----------------------------------------------------------------------------

SECRETS = """
stack: s
sensitive: [plain_name]
vars: {db_password: pw-var, plain_name: marked, port: 3306, api_key_enabled: true}
environments: {dev: {env_file: .env}}
services:
  a:
    image: x
    environment:
      P: "{{ db_password | upper }}"
      Q: "{{ env.FROM_FILE }}"
      R: "user:{{ env.GITHUB_TOKEN }}@host"
      S: "{{ port }}"
"""


def test_sensitive_values_cover_env_files_secret_names_and_derived_values(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text("FROM_FILE=file-secret\nEMPTY=\n")
    r = rendered(tmp_path, SECRETS, environ={"GITHUB_TOKEN": "ghp_x", "HOME": "/root"})
    assert r.sensitive_values == {
        "file-secret",
        "pw-var",
        "PW-VAR",
        "marked",
        "ghp_x",
        "user:ghp_x@host",
    }
    shown = {v.name: v.shown() for v in r.variables}
    assert shown["db_password"] == shown["plain_name"] == "(sensitive)"
    assert shown["env.FROM_FILE"] == shown["env.GITHUB_TOKEN"] == "(sensitive)"
    assert shown["port"] == 3306


def test_env_file_that_is_a_fifo_is_refused_not_read(tmp_path: Path) -> None:
    """A FIFO would block the read forever: it is unreadable, like a directory."""
    import os

    os.mkfifo(tmp_path / "pipe.env")
    (tmp_path / "envkit.yaml").write_text(
        "stack: s\nenvironments:\n  dev: {env_file: [pipe.env]}\n"
        "services:\n  web: {image: busybox, env_file: pipe.env}\n"
    )
    from envkit.stackfile.pipeline import read, resolve

    doc = read(tmp_path / "envkit.yaml")
    with pytest.raises(StackError) as info:
        resolve(doc, "dev")
    assert [d.code for d in info.value.diagnostics] == ["unreadable-env-file"]
    assert "not a regular file" in info.value.diagnostics[0].message


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "missing.env",
            "envkit.yaml:4:35: error[missing-env-file]: services.web.env_file: env file "
            "'missing.env' does not exist\n"
            "  hint: create it, or mark it optional: {path: missing.env, required: false}",
        ),
        (
            "pipe.env",
            "envkit.yaml:4:35: error[unreadable-env-file]: services.web.env_file: "
            "env file 'pipe.env' cannot be read",
        ),
        ("[{path: missing.env, required: false}]", None),
    ],
)
def test_service_env_file_messages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str, expected: str | None
) -> None:
    import os

    os.mkfifo(tmp_path / "pipe.env")
    (tmp_path / "envkit.yaml").write_text(
        "stack: s\nenvironments: {dev: {}}\n"
        f"services:\n  web: {{image: busybox, env_file: {entry}}}\n"
    )
    from envkit.stackfile.pipeline import read, resolve

    monkeypatch.chdir(tmp_path)
    doc = read("envkit.yaml")
    if expected is None:
        assert resolve(doc, "dev").desired.service("web").environment == ()
        return
    with pytest.raises(StackError) as info:
        resolve(doc, "dev")
    assert info.value.render() == expected

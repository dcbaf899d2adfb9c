"""Interpolating a parsed Compose document: values only, typed paths, located problems,
and the record of which variable reached which node."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envkit.errors import Diagnostic, Origin
from envkit.stackfile.interpolation_tree import NodeUse, interpolate_tree
from envkit.stackfile.yamltree import build

COMPOSE = b"""\
name: ${PROJECT:-shop}
x-common: &common
  image: ${REGISTRY}/app:${TAG:-latest}
services:
  web:
    <<: *common
    privileged: ${PRIV}
    ports:
      - "${PORT:-8080}:80"
      - target: ${TARGET}
        published: "${PUBLISHED}"
    labels:
      "$KEY_IS_NOT_INTERPOLATED": "${LABEL}"
    environment:
      - "$ENV_NAME=value"
    command: echo $$HOME ${GREETING:?say hello}
    healthcheck: {retries: "${RETRIES}", interval: 5s}
    cpus: ${CPUS}
networks:
  back: {internal: "${INTERNAL}"}
"""

VARS = {
    "REGISTRY": "registry.local:5000",
    "PRIV": "yes",
    "TARGET": "80",
    "PUBLISHED": "8081",
    "LABEL": "s3cret",
    "ENV_NAME": "MODE",
    "GREETING": "hi",
    "RETRIES": "3",
    "CPUS": "0.5",
    "INTERNAL": "true",
}


def _run(source: bytes, variables: dict[str, str]) -> Any:
    tree = build(source, "compose.yaml")
    return interpolate_tree(tree.root, variables, tree.value_origins.get)


def test_values_are_interpolated_and_typed_keys_are_not() -> None:
    result = _run(COMPOSE, VARS)
    assert result.problems == ()
    web = result.root["services"]["web"]
    assert result.root["name"] == "shop"
    assert result.root["x-common"]["image"] == "registry.local:5000/app:latest"
    assert web["image"] == "registry.local:5000/app:latest"
    assert web["privileged"] is True  # compose-go casts booleans after interpolation
    assert web["ports"] == ["8080:80", {"target": 80, "published": "8081"}]
    assert web["labels"] == {"$KEY_IS_NOT_INTERPOLATED": "s3cret"}
    assert web["environment"] == ["MODE=value"]
    assert web["command"] == "echo $HOME hi"
    assert web["healthcheck"] == {"retries": 3, "interval": "5s"}
    assert web["cpus"] == 0.5
    assert result.root["networks"]["back"]["internal"] is True


def test_uses_record_node_value_and_origin() -> None:
    result = _run(COMPOSE, VARS)
    label = [u for u in result.uses if u.name == "LABEL"]
    assert label == [
        NodeUse(
            ("services", "web", "labels", "$KEY_IS_NOT_INTERPOLATED"),
            Origin("compose.yaml", 13, 35),
            "LABEL",
            "s3cret",
            True,
        )
    ]
    assert result.values_of(["LABEL", "PRIV"]) == {"s3cret", "yes"}
    assert result.unset == ()
    assert "KEY_IS_NOT_INTERPOLATED" not in {u.name for u in result.uses}


def test_unset_bare_variables_are_listed_once() -> None:
    result = _run(COMPOSE, {**VARS, "REGISTRY": "", "PRIV": "false"} | {"LABEL": "x"})
    assert result.unset == ()
    partial = {k: v for k, v in VARS.items() if k not in ("REGISTRY", "LABEL")}
    assert _run(COMPOSE, partial).unset == ("REGISTRY", "LABEL")


def test_every_problem_is_located_and_the_text_kept() -> None:
    source = b"""\
services:
  web:
    image: "${IMAGE"
    command: ${GREETING:?say hello}
    privileged: ${PRIV}
    ports: [{target: "${TARGET}"}]
"""
    result = _run(source, {"PRIV": "maybe", "TARGET": "http"})
    assert result.problems == (
        Diagnostic(
            "invalid-interpolation",
            "invalid interpolation format: '${IMAGE'",
            ("services", "web", "image"),
            Origin("compose.yaml", 3, 12),
            "write $$ for a literal $; a variable reads $NAME, ${NAME} or ${NAME:-default} "
            "(also -, :+, +, :? and ?)",
        ),
        Diagnostic(
            "missing-required-variable",
            "required variable GREETING is missing a value: say hello",
            ("services", "web", "command"),
            Origin("compose.yaml", 4, 14),
            "set GREETING in the environment or in the .env file",
        ),
        Diagnostic(
            "invalid-interpolated-value",
            "the value that PRIV gave is not a boolean (true or false)",
            ("services", "web", "privileged"),
            Origin("compose.yaml", 5, 17),
            "Compose reads this field as a boolean (true or false)",
        ),
        Diagnostic(
            "invalid-interpolated-value",
            "the value that TARGET gave is not a whole number",
            ("services", "web", "ports", 0, "target"),
            Origin("compose.yaml", 6, 22),
            "Compose reads this field as a whole number",
        ),
    )
    assert result.root["services"]["web"]["image"] == "${IMAGE"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("FALSE", False),
        ("on", True),
        ("n", False),
        ("+3", 3),
        ("-1", -1),
    ],
)
def test_casts_follow_compose_go(text: str, expected: object) -> None:
    path_of = {bool: "tty", int: "oom_score_adj"}[type(expected)]
    tree = {"services": {"s": {path_of: text}}}
    assert interpolate_tree(tree, {}, lambda _p: None).root["services"]["s"][path_of] == expected


@pytest.mark.parametrize("text", [" 3", "3.0", "1_000", "0x10", ""])
def test_int_casts_refuse_what_strconv_atoi_refuses(text: str) -> None:
    tree = {"services": {"s": {"scale": text}}}
    result = interpolate_tree(tree, {}, lambda _p: None)
    assert [p.code for p in result.problems] == ["invalid-interpolated-value"]
    # no variable made it: the text is the file's own and is shown
    assert result.problems[0].message == f"{text!r} is not an integer (after interpolation)"


def test_a_bad_value_from_a_variable_is_not_shown() -> None:
    tree = {"services": {"s": {"tty": "${PW}"}}}
    result = interpolate_tree(tree, {"PW": "hunter2"}, lambda _p: None)
    assert [p.message for p in result.problems] == [
        "the value that PW gave is not a boolean (true or false)"
    ]


def test_no_casts_keeps_strings_and_non_strings_are_untouched() -> None:
    tree = {"services": {"s": {"tty": "true", "scale": 2, "x": None, "y": 1.5, "z": False}}}
    result = interpolate_tree(tree, {}, lambda _p: None, casts=())
    assert result.root == tree


def test_input_is_not_changed() -> None:
    tree = {"a": ["$A", {"b": "${A}"}]}
    before = copy.deepcopy(tree)
    result = interpolate_tree(tree, {"A": "1"}, lambda _p: None)
    assert tree == before
    assert result.root == {"a": ["1", {"b": "1"}]}


_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=12))
_trees = st.recursive(
    _leaves,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_trees, st.dictionaries(st.text(max_size=4), st.text(max_size=4), max_size=4))
def test_walk_never_raises(tree: Any, variables: dict[str, str]) -> None:
    result = interpolate_tree({"services": {"s": tree}}, variables, lambda _p: None)
    assert all(isinstance(p, Diagnostic) for p in result.problems)

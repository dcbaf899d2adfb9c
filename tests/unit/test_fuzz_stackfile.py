"""Property: whatever a mutated stack file holds, the whole front half — load, validate,
check, then render, normalize and the instance/image rules of every environment — raises
nothing but StackError (never a traceback), and what it returns is a desired state."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from envkit.errors import StackError
from envkit.model import DesiredState
from envkit.stackfile.checks import check_document, check_services
from envkit.stackfile.document import load
from envkit.stackfile.pipeline import environments, read, resolve
from envkit.stackfile.schema import validate

VALID = (Path(__file__).resolve().parents[2] / "stacks" / "databases.yaml").read_text()
BASE = yaml.safe_load(VALID)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["{{ x }}", "8080:80", "1m30s", "data:/x", "no", "<<", "*a", "&a"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)


def paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            out += paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            out += paths(value, (*prefix, index))
    return out


@st.composite
def mutated_trees(draw: st.DrawFn) -> str:
    tree = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 4))):
        candidates = paths(tree)[1:]
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = tree
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()):
            del parent[path[-1]]  # drop a key or an item
        else:
            parent[path[-1]] = draw(values)  # swap in another type
    return yaml.safe_dump(tree, sort_keys=False)


@st.composite
def mutated_texts(draw: st.DrawFn) -> bytes:
    text = VALID.encode()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["insert-text", "insert-bytes", "duplicate-line", "cut"]))
        at = draw(st.integers(0, len(text)))
        if kind == "insert-text":
            text = text[:at] + draw(st.text(max_size=12)).encode() + text[at:]
        elif kind == "insert-bytes":
            text = text[:at] + draw(st.binary(max_size=6)) + text[at:]
        elif kind == "duplicate-line":
            lines = text.split(b"\n")
            index = draw(st.integers(0, len(lines) - 1))
            text = b"\n".join([*lines[: index + 1], lines[index], *lines[index + 1 :]])
        else:
            text = text[:at] + text[at + draw(st.integers(1, 40)) :]
    return text


def run_pipeline(path: Path) -> None:
    try:
        doc = load(path)
        validate(doc)
        check_document(doc)
        check_services(doc.data, doc)
    except StackError as exc:
        assert exc.diagnostics
        exc.render()
        return
    try:
        doc = read(path)
    except StackError as exc:
        assert exc.diagnostics
        exc.render()
        return
    for env in environments(doc):
        for instance in (None, "fz1"):
            try:
                resolved = resolve(doc, env, environ={}, instance=instance)
            except StackError as exc:
                assert exc.diagnostics
                exc.render()
            else:
                assert isinstance(resolved.desired, DesiredState)
                assert resolved.desired.project.startswith(f"{doc.stack_name}-{env}")


FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(mutated_trees())
def test_tree_mutations_never_raise_anything_but_stack_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(text)
    run_pipeline(path)


@FUZZ
@given(mutated_texts())
def test_text_mutations_never_raise_anything_but_stack_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "stack.yaml"
    path.write_bytes(data)
    run_pipeline(path)


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_arbitrary_input_never_raises_anything_but_stack_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "stack.yaml"
    path.write_bytes(data)
    run_pipeline(path)

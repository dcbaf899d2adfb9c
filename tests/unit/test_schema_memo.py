"""The memo of valid trees: an unchanged tree skips jsonschema; errors are always found;
the memo file says nothing about the trees."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from envkit.stackfile import schema
from envkit.stackfile.schema import validate_tree

SECRET = "hunter2-very-secret"
VALID: dict[str, Any] = {
    "stack": "shop",
    "services": {"db": {"image": "busybox", "environment": {"PASSWORD": SECRET}}},
}


class Nowhere:
    def origin(self, path: Any) -> None:
        return None

    def key_origin(self, path: Any) -> None:
        return None


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ENVKIT_STATE_DIR", str(tmp_path))
    monkeypatch.delenv("ENVKIT_NO_CACHE", raising=False)
    return tmp_path


def forbid_jsonschema(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom() -> Any:
        raise AssertionError("jsonschema was used")

    monkeypatch.setattr(schema, "_validator", boom)


def test_a_valid_tree_is_validated_once(monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    assert validate_tree(VALID, Nowhere()) == []
    forbid_jsonschema(monkeypatch)
    assert validate_tree(VALID, Nowhere()) == []
    text = (state_dir / "cache" / "valid-trees").read_text()
    assert SECRET not in text and "shop" not in text
    assert len(text.split()) == 1


def test_errors_are_always_found(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = {**VALID, "services": {"db": {"image": 5}}}
    first = validate_tree(bad, Nowhere())
    assert first
    assert validate_tree(bad, Nowhere()) == first  # invalid trees are never remembered
    assert validate_tree(VALID, Nowhere()) == []
    assert validate_tree(bad, Nowhere()) == first


def test_a_different_tree_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    assert validate_tree(VALID, Nowhere()) == []
    forbid_jsonschema(monkeypatch)
    changed = {**VALID, "stack": "shop2"}
    with pytest.raises(AssertionError, match="jsonschema was used"):
        validate_tree(changed, Nowhere())


def test_trees_json_cannot_say_exactly_are_not_remembered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    odd = {**VALID, "x-when": datetime.date(2024, 1, 1)}
    validate_tree(odd, Nowhere())
    forbid_jsonschema(monkeypatch)
    with pytest.raises(AssertionError, match="jsonschema was used"):
        validate_tree(odd, Nowhere())


def test_envkit_no_cache_turns_it_off(monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    monkeypatch.setenv("ENVKIT_NO_CACHE", "1")
    assert validate_tree(VALID, Nowhere()) == []
    assert not (state_dir / "cache").exists()


def test_an_unwritable_cache_is_no_cache(monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    (state_dir / "cache").write_text("a file where the directory should be")
    assert validate_tree(VALID, Nowhere()) == []
    assert validate_tree({**VALID, "stack": 5}, Nowhere())


def test_the_memo_is_bounded(monkeypatch: pytest.MonkeyPatch, state_dir: Path) -> None:
    monkeypatch.setattr(schema._ValidMemo, "LIMIT", 10)
    for i in range(25):
        assert validate_tree({**VALID, "stack": f"s{i}"}, Nowhere()) == []
    lines = (state_dir / "cache" / "valid-trees").read_text().split()
    assert len(lines) <= 10

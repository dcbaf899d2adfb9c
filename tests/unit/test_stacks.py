"""Every example stack in stacks/ loads, validates and passes the document checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from envkit.stackfile.checks import check_document, check_services
from envkit.stackfile.document import load
from envkit.stackfile.schema import validate

STACKS = sorted((Path(__file__).resolve().parents[2] / "stacks").glob("*.yaml"))


def test_there_are_example_stacks() -> None:
    assert {p.name for p in STACKS} >= {"databases.yaml", "web.yaml"}


@pytest.mark.parametrize("path", STACKS, ids=[p.name for p in STACKS])
def test_example_stack_is_valid(path: Path) -> None:
    doc = load(path)
    problems = validate(doc) + check_document(doc) + check_services(doc.data, doc)
    assert [p.render() for p in problems] == []


def test_the_database_stack_is_the_three_database_picture() -> None:
    doc = load(Path(__file__).resolve().parents[2] / "stacks" / "databases.yaml")
    ports = {name: env["vars"]["db_port"] for name, env in doc.data["environments"].items()}
    assert ports == {"dev": 3307, "test": 3308, "release": 3306}
    db = doc.data["services"]["db"]
    assert "data:/var/lib/mysql" in db["volumes"]
    assert "./databases/conf:/etc/mysql/conf.d:ro" in db["volumes"]
    assert (doc.directory / "databases" / "conf").is_dir()

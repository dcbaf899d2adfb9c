"""The README as written: its complete example is the real stacks/databases.yaml, and its
pytest.ini example reads back as the plugin's settings (pytest keeps an inline '#')."""

from __future__ import annotations

import configparser
import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _without_descriptions(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _without_descriptions(v) for k, v in tree.items() if k != "description"}
    return tree


def test_the_complete_example_is_the_real_stack_file() -> None:
    block = re.search(r"```yaml\n(# yaml-language-server.*?)```", README, re.S)
    assert block is not None
    shown = _without_descriptions(yaml.safe_load(block.group(1)))
    real = _without_descriptions(yaml.safe_load((ROOT / "stacks" / "databases.yaml").read_text()))
    assert shown == real


def test_the_plan_example_names_every_password_the_stack_sets() -> None:
    real = yaml.safe_load((ROOT / "stacks" / "databases.yaml").read_text())
    for name in real["services"]["db"]["environment"]:
        assert f"~ environment.{name}: (sensitive) -> (sensitive)" in README


def test_the_pytest_ini_example_has_no_inline_comments() -> None:
    block = re.search(r"```ini\n(.*?)```", README, re.S)
    assert block is not None
    parser = configparser.ConfigParser(inline_comment_prefixes=None)
    parser.read_string(block.group(1))
    values = dict(parser["pytest"])
    assert values["envkit_scope"] in ("session", "package", "module", "class")
    assert all("#" not in v for v in values.values())


def test_the_readme_shows_the_demo_graph_as_envkit_draws_it() -> None:
    from envkit.graph import mermaid
    from envkit.stackfile.pipeline import read, resolve

    desired = resolve(read(ROOT / "stacks" / "databases.yaml"), "dev", environ={}).desired
    assert "```mermaid\n" + mermaid(desired) + "```" in README


def test_the_plan_example_shows_the_init_env_warning_envkit_gives() -> None:
    from envkit.reconcile.initenv import init_env_warnings
    from envkit.reconcile.spec_diff import FieldDiff
    from envkit.stackfile.pipeline import read, resolve

    desired = resolve(read(ROOT / "stacks" / "databases.yaml"), "dev", environ={}).desired
    (db,) = desired.services
    diffs = [
        FieldDiff(f"environment.{k}", "(sensitive)", "(sensitive)", True) for k, _ in db.environment
    ]
    (warning,) = init_env_warnings(desired, db, diffs, [desired.volume_name("data")])
    assert f"warning[{warning.code}]: {warning.message}\n  hint: {warning.hint}\n" in README

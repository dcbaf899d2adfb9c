"""The awesome-compose corpus against docker-compose 1.29.2.

- docker-compose accepts every corpus file except the ones listed in REFUSED, each with
  the Compose Specification section of the feature 1.29.2 predates (PROVENANCE.md);
- for the samples that use variables (their ``.env`` beside them), envkit's ``.env``
  reading and interpolation give every service the environment, image, ports and
  volumes strings that ``docker-compose config`` gives.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from compose_oracle import OracleResult, compose_files

from envkit.stackfile.composeenv import dotenv_environment
from envkit.stackfile.interpolation_tree import interpolate_tree
from envkit.stackfile.yamltree import build

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "awesome-compose"

# sample -> (what docker-compose 1.29.2 says, the specification's section)
REFUSED = {
    "react-rust-postgres": (
        "'name' does not match any of the regexes: '^x-'",
        "Version and name top-level elements: Name top-level element (04-version-and-name.md)",
    ),
}

WITH_VARIABLES = ["pihole-cloudflared-DoH", "plex", "postgresql-pgadmin", "wireguard"]


@pytest.fixture
def oracle(corpus_oracle: dict[str, OracleResult]) -> dict[str, OracleResult]:
    return corpus_oracle  # computed once per session (conftest.py)


def test_corpus_is_complete() -> None:
    samples = [f.parent.name for f in compose_files(CORPUS)]
    assert len(samples) == 39
    provenance = (CORPUS / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "18f59bdb09ecf520dd5758fbf90dec314baec545" in provenance
    assert "CC0 1.0 Universal" in (CORPUS / "LICENSE").read_text(encoding="utf-8")
    for sample in WITH_VARIABLES:
        assert (CORPUS / sample / ".env").is_file()


def test_docker_compose_accepts_all_but_the_listed(oracle: dict[str, OracleResult]) -> None:
    refused = {name: r.stderr for name, r in oracle.items() if not r.accepted}
    assert sorted(refused) == sorted(REFUSED)
    for name, (message, section) in REFUSED.items():
        assert message in refused[name], section


def _strings(value: Any) -> Any:
    """Compare as Compose writes values: a ``KEY=VAL`` list as a mapping, ``$`` unescaped."""
    if isinstance(value, list) and all(isinstance(v, str) and "=" in v for v in value):
        return dict(v.split("=", 1) for v in value)
    return value


@pytest.mark.parametrize("sample", WITH_VARIABLES)
def test_interpolated_values_match_docker_compose(
    sample: str, oracle: dict[str, OracleResult]
) -> None:
    file = next(f for f in compose_files(CORPUS) if f.parent.name == sample)
    env_text = (file.parent / ".env").read_text(encoding="utf-8")
    project = dotenv_environment({}, [(f"{sample}/.env", env_text)])
    tree = build(file.read_bytes(), f"{sample}/{file.name}")
    result = interpolate_tree(tree.root, project.values, tree.value_origins.get)
    assert result.problems == ()
    assert set(project.from_files) <= set(project.values)

    expected = oracle[sample].config["services"]
    for name, service in result.root["services"].items():
        theirs = expected[name]
        environment = _strings(service.get("environment", {}))
        assert {k: v.replace("$$", "$") for k, v in theirs.get("environment", {}).items()} == {
            k: v for k, v in environment.items()
        }, name
        assert theirs.get("image") == service.get("image"), name
        for volume in service.get("volumes", []):
            source = os.path.normpath(volume.split(":", 1)[0])
            if source.startswith("/"):  # an absolute host path: 1.29.2 keeps it, normalized
                assert any(_source(v) == source for v in theirs["volumes"]), (name, volume)


def _source(volume: str | dict[str, Any]) -> str:
    source = volume.get("source", "") if isinstance(volume, dict) else volume.split(":", 1)[0]
    return os.path.normpath(source)

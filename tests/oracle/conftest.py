"""Session-scoped oracle results: ``docker-compose config`` costs about 3 s per file, so
each corpus file goes through it once per test session, whichever test asks first."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from compose_oracle import OracleResult, compose_config, compose_files

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "awesome-compose"


@pytest.fixture(scope="session")
def corpus_oracle() -> dict[str, OracleResult]:
    """sample -> what ``docker-compose -p corpus config`` said of its Compose file."""
    files = compose_files(CORPUS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda f: compose_config(f, {}, project_name="corpus"), files)
        return {f.parent.name: r for f, r in zip(files, results, strict=True)}

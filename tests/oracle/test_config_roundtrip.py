"""``envkit config`` round trip: stack -> Compose file -> ``docker-compose config`` and back.

For each case (envkit's own stacks, the Compose example under stacks/, and corpus
samples from awesome-compose), in a temporary copy of its folder (with the local build
contexts the corpus lacks, as the oracle makes them, plus an empty Dockerfile that envkit
checks for):

- the printed file is accepted by docker-compose 1.29.2 (``docker-compose -f - config``);
- envkit reading the printed file back gives the same desired state: the same services
  in the same order with equal specs and equal spec hashes, the same volumes and networks.

Sensitive values are printed with ``--show-secrets`` here (masked, they could not round
trip); which values are sensitive is a property of where a value came from (an env file,
a secret-looking variable), which a printed Compose file no longer says, so
``sensitive_env`` is left out of the comparison.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from compose_oracle import _create_build_contexts, docker_compose

from envkit.canonical import spec_hash
from envkit.cli.commands.config import compose_document, format_duration, format_size
from envkit.model import DesiredState, ServiceSpec
from envkit.stackfile.pipeline import environments, read, resolve
from envkit.units import parse_duration, parse_size

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus" / "awesome-compose"

# (case id, stack file relative to the repository, environment or None for the only one)
CASES = [
    ("web-dev", "stacks/web.yaml", "dev"),
    ("web-ci", "stacks/web.yaml", "ci"),
    ("databases-release", "stacks/databases.yaml", "release"),
    ("compose-app", "stacks/compose-app/compose.yaml", None),
    ("compose-app-envkit", "stacks/compose-app/envkit.yaml", "dev"),
    *(
        (sample, str(next(CORPUS.glob(f"{sample}/*compose.y*ml")).relative_to(ROOT)), None)
        for sample in (
            "wordpress-mysql",
            "prometheus-grafana",
            "flask-redis",
            "nginx-golang-postgres",
            "aspnet-mssql",
            "pihole-cloudflared-DoH",
            "nextcloud-redis-mariadb",
            "elasticsearch-logstash-kibana",
        )
    ),
]


@dataclass(frozen=True)
class RoundTrip:
    original: DesiredState
    printed: str
    oracle_rc: int
    oracle_stderr: str
    back: DesiredState


def _round_trip(stack: str, env: str | None) -> RoundTrip:
    source = ROOT / stack
    with tempfile.TemporaryDirectory(prefix="envkit-config-") as tmp:
        folder = Path(tmp) / source.parent.name
        shutil.copytree(source.parent, folder, symlinks=True)
        _create_build_contexts(folder / source.name)
        _create_dockerfiles(folder / source.name)
        doc = read(folder / source.name)
        original = resolve(doc, env or environments(doc)[0], environ={}).desired
        data = compose_document(original, show_secrets=True)
        printed = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
        proc = subprocess.run(
            [docker_compose(), "-p", "roundtrip", "-f", "-", "config", "-q"],
            input=printed,
            cwd=folder,
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        out = Path(tmp) / "printed" / "compose.yaml"
        out.parent.mkdir()
        out.write_text(printed, encoding="utf-8")
        back = resolve(read(out), "default", environ={}).desired
    return RoundTrip(original, printed, proc.returncode, proc.stderr, back)


def _create_dockerfiles(file: Path) -> None:
    """An empty-image Dockerfile in each local build context that has none."""
    document = yaml.safe_load(file.read_text(encoding="utf-8"))
    for service in (document.get("services") or {}).values():
        build = service.get("build")
        if build is None:
            continue
        body = build if isinstance(build, dict) else {"context": build}
        dockerfile = file.parent / body.get("context", ".") / body.get("dockerfile", "Dockerfile")
        if not dockerfile.exists():
            dockerfile.write_text("FROM scratch\n", encoding="utf-8")


@pytest.fixture(scope="module")
def trips() -> dict[str, RoundTrip]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = pool.map(lambda c: _round_trip(c[1], c[2]), CASES)
        return {c[0]: r for c, r in zip(CASES, results, strict=True)}


def _comparable(svc: ServiceSpec) -> ServiceSpec:
    # envkit's own annotations, which no Compose file carries and no container holds:
    # which variables are secret, and which are read only on a volume's first start.
    return dataclasses.replace(svc, sensitive_env=frozenset(), init_env=None)


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_docker_compose_accepts_the_printed_file(case: str, trips: dict[str, RoundTrip]) -> None:
    trip = trips[case]
    assert trip.oracle_rc == 0, trip.oracle_stderr + trip.printed


@pytest.mark.parametrize("case", [c[0] for c in CASES])
def test_reading_it_back_gives_the_same_desired_state(
    case: str, trips: dict[str, RoundTrip]
) -> None:
    trip = trips[case]
    before, after = trip.original, trip.back
    assert [s.name for s in after.services] == [s.name for s in before.services]
    for old, new in zip(before.services, after.services, strict=True):
        assert _comparable(new) == _comparable(old), old.name
        assert spec_hash(_comparable(new)) == spec_hash(_comparable(old)), old.name
    assert after.volumes == before.volumes
    assert after.networks == before.networks


def test_values_are_written_as_people_write_them() -> None:
    assert [format_duration(s) for s in (2.0, 90.0, 1.5, 0.25, 3600.0, 0.0)] == [
        "2s", "1m30s", "1s500ms", "250ms", "1h", "0s",
    ]  # fmt: skip
    for seconds in (2.0, 90.0, 1.5, 0.001, 7261.5, 1e-6):
        assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)
    assert [format_size(n) for n in (64 * 1024**2, 2 * 1024**3, 3072, 1536)] == [
        "64m", "2g", "3k", "1536b",
    ]  # fmt: skip
    for size in (64 * 1024**2, 2 * 1024**3, 3072, 1536):
        assert parse_size(format_size(size)) == size

"""Debian's docker-compose 1.29.2 as an oracle: what ``docker-compose config`` makes of a
Compose file, in a controlled environment.

``compose_config(file, env)`` copies the file's folder to a temporary project folder,
creates the local build contexts that ``config`` insists on (it refuses a ``build:`` path
that does not exist, and the corpus keeps no application code), runs
``docker-compose -p NAME -f FILE config`` there with only ``env`` (plus ``PATH``) in its
environment, and returns the parsed YAML with the temporary folder's path replaced by
:data:`PROJECT`. ``config`` never contacts an engine.

Run as a script, it reports which corpus files docker-compose 1.29.2 accepts:
``python3 tests/compose_oracle.py [tests/corpus/awesome-compose]``.

Install the oracle with ``scripts/install-image-tools.sh`` (``apt-get install -y
docker-compose``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = ["PROJECT", "OracleResult", "compose_config", "compose_files", "docker_compose"]

PROJECT = "<project>"
COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
EXPECTED_VERSION = "1.29.2"


@dataclass(frozen=True)
class OracleResult:
    """What ``docker-compose config`` said: the parsed config, or its refusal."""

    returncode: int
    config: Any  # parsed YAML when returncode == 0, else None
    stderr: str  # with the temporary folder's path replaced by PROJECT

    @property
    def accepted(self) -> bool:
        return self.returncode == 0


def docker_compose() -> str:
    """The docker-compose 1.29.2 executable; fails (never skips) when it is missing."""
    path = shutil.which("docker-compose")
    if path is None:
        raise AssertionError(
            "docker-compose (Debian's 1.29.2, the oracle) is not installed: "
            "run scripts/install-image-tools.sh or apt-get install -y docker-compose"
        )
    version = subprocess.run(
        [path, "version", "--short"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if version != EXPECTED_VERSION:
        raise AssertionError(f"the oracle is docker-compose {EXPECTED_VERSION}, found {version!r}")
    return path


def compose_files(corpus: Path) -> list[Path]:
    """Every Compose file of the corpus, one per sample folder, sorted."""
    return sorted(p for p in corpus.glob("*/*") if p.name in COMPOSE_NAMES)


def compose_config(
    file: Path,
    env: Mapping[str, str],
    *,
    project_name: str = "oracle",
    args: tuple[str, ...] = (),
    timeout: float = 60.0,
) -> OracleResult:
    """``docker-compose -p project_name -f file config *args`` with environment ``env``."""
    executable = docker_compose()
    with tempfile.TemporaryDirectory(prefix="compose-oracle-") as tmp:
        project = Path(tmp) / file.parent.name
        shutil.copytree(file.parent, project, symlinks=True)
        _create_build_contexts(project / file.name)
        proc = subprocess.run(
            [executable, "-p", project_name, "-f", file.name, "config", *args],
            cwd=project,
            env={"PATH": "/usr/bin:/bin", **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        stdout = proc.stdout.replace(str(project), PROJECT)
        stderr = proc.stderr.replace(str(project), PROJECT)
    config = yaml.safe_load(stdout) if proc.returncode == 0 else None
    return OracleResult(proc.returncode, config, stderr)


def _create_build_contexts(file: Path) -> None:
    """Make the local ``build:`` folders that ``config`` checks for (empty ones)."""
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return  # docker-compose will say what is wrong
    services = document.get("services") if isinstance(document, dict) else None
    if not isinstance(services, dict):
        return
    for service in services.values():
        build = service.get("build") if isinstance(service, dict) else None
        context = build.get("context", ".") if isinstance(build, dict) else build
        if isinstance(context, str) and "://" not in context and "$" not in context:
            target = (file.parent / context).resolve()
            if target.is_relative_to(file.parent.resolve()):
                target.mkdir(parents=True, exist_ok=True)


def main(argv: list[str]) -> int:
    corpus = Path(argv[0]) if argv else Path(__file__).parent / "corpus" / "awesome-compose"
    refused = 0
    for file in compose_files(corpus):
        result = compose_config(file, {})
        sample = file.parent.name
        if result.accepted:
            print(f"ok       {sample}")
        else:
            refused += 1
            reason = " ".join(result.stderr.split())[:200]
            print(f"refused  {sample}: {reason}")
    print(f"{refused} of {len(compose_files(corpus))} refused by docker-compose {EXPECTED_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The awesome-compose corpus read by envkit, unchanged, against ``docker-compose config``.

Each sample is copied to a temporary folder where the local ``build:`` contexts the corpus
lacks are created empty, as the oracle needs them (``compose_oracle._create_build_contexts``),
each with a one-line Dockerfile, because envkit hashes the context and checks that its
Dockerfile exists. No environment variables are set on either side.

- All 39 files validate unchanged (``read`` + ``resolve`` of the implicit environment).
- Per service, envkit's desired state agrees with docker-compose 1.29.2's ``config`` on
  ports, environment, volumes, networks, command, entrypoint, healthcheck and secrets,
  both sides normalised to the same plain values:

  ports        a sorted list of (host_ip or "", published or None, target, protocol);
               Compose's long form and envkit's PortSpec alike
  environment  a mapping; Compose's values as strings; keys without a value (None) left
               out, as envkit leaves out a bare KEY the (empty) environment does not define
  volumes      a list, in order, of (type, source, target, read_only): Compose's short
               ``SRC:TGT[:MODE]`` and long forms; a source starting with ``/`` or ``.`` is a
               bind, an empty one anonymous; the temporary folder written as ``<project>``;
               secret and config files left out here (compared as secrets)
  networks     a mapping network -> sorted aliases; none declared is ``{"default": []}``
  command,     a list of words: a Compose string split with ``shlex`` (as docker-compose
  entrypoint   splits it before it creates the container); None when not set
  healthcheck  test as a list (a string is ``[CMD-SHELL, s]``), ``disable`` as ``[NONE]``,
               durations in seconds (``envkit.units.parse_duration``), retries
  secrets      a sorted list of (target, file): the path in the container
               (``/run/secrets/NAME`` or the absolute target) and the top-level secret's file

  and every string on Compose's side with ``$$`` read as ``$`` (1.29.2 prints a literal
  ``$`` in its escaped form).

react-rust-postgres uses the top-level ``name:`` that 1.29.2 predates (Compose
Specification, "Version and name top-level elements", 04-version-and-name.md: the project
name). There, the oracle's answer is taken from the same file without ``name:``, and the
stack name is checked against the specification: envkit names the stack after ``name:``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from compose_oracle import PROJECT, OracleResult, _create_build_contexts, compose_config
from compose_oracle import compose_files as corpus_files

from envkit.model import DesiredState, MountType, ServiceSpec
from envkit.stackfile.pipeline import read, resolve
from envkit.units import parse_duration

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "awesome-compose"
SAMPLES = [f.parent.name for f in corpus_files(CORPUS)]
WITH_NAME = {"react-rust-postgres"}  # top-level name:, which 1.29.2 refuses


def _copy(file: Path, tmp: Path) -> Path:
    folder = tmp / file.parent.name
    shutil.copytree(file.parent, folder, symlinks=True)
    copy = folder / file.name
    _create_build_contexts(copy)
    document = yaml.safe_load(copy.read_text(encoding="utf-8"))
    for service in (document.get("services") or {}).values():
        build = service.get("build")
        if build is not None:
            body = build if isinstance(build, dict) else {"context": build}
            context = folder / body.get("context", ".")
            dockerfile = context / body.get("dockerfile", "Dockerfile")
            if context.is_dir() and not dockerfile.exists():
                dockerfile.write_text("FROM scratch\n", encoding="utf-8")
    return copy


def _envkit(file: Path) -> tuple[DesiredState | str, str]:
    """envkit's desired state (or its error text), and the copy's folder."""
    with tempfile.TemporaryDirectory(prefix="envkit-corpus-") as tmp:
        copy = _copy(file, Path(tmp))
        try:
            desired: DesiredState | str = resolve(read(copy), "default", environ={}).desired
        except Exception as exc:  # reported by the test, with the sample's name
            desired = f"{type(exc).__name__}: {exc}"
        return desired, str(copy.parent)


def _oracle_without_name(file: Path) -> OracleResult:
    with tempfile.TemporaryDirectory(prefix="envkit-corpus-") as tmp:
        copy = Path(tmp) / file.parent.name / file.name
        shutil.copytree(file.parent, copy.parent, symlinks=True)
        document = yaml.safe_load(copy.read_text(encoding="utf-8"))
        document.pop("name")
        copy.write_text(yaml.safe_dump(document), encoding="utf-8")
        return compose_config(copy, {}, project_name="corpus")


@pytest.fixture(scope="session")
def envkit_corpus() -> dict[str, tuple[DesiredState | str, str]]:
    files = corpus_files(CORPUS)
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(SAMPLES, pool.map(_envkit, files), strict=True))


@pytest.fixture(scope="session")
def oracle_configs(corpus_oracle: dict[str, OracleResult]) -> dict[str, Any]:
    out = {name: r.config for name, r in corpus_oracle.items() if r.accepted}
    for name in WITH_NAME:
        result = _oracle_without_name(CORPUS / name / _file_name(name))
        assert result.accepted, result.stderr
        out[name] = result.config
    return out


def _file_name(sample: str) -> str:
    return next(f.name for f in corpus_files(CORPUS) if f.parent.name == sample)


def test_every_corpus_file_validates_unchanged(
    envkit_corpus: dict[str, tuple[DesiredState | str, str]],
) -> None:
    assert len(envkit_corpus) == 39
    failed = {name: d for name, (d, _) in envkit_corpus.items() if isinstance(d, str)}
    assert failed == {}


def test_top_level_name_is_the_stack_name(
    envkit_corpus: dict[str, tuple[DesiredState | str, str]],
) -> None:
    # Compose Specification, 04-version-and-name.md: "name" sets the project name.
    for sample in WITH_NAME:
        desired, _ = envkit_corpus[sample]
        assert isinstance(desired, DesiredState)
        declared = yaml.safe_load((CORPUS / sample / _file_name(sample)).read_text())["name"]
        assert desired.stack == declared


# --- normalisation, both sides ------------------------------------------------------------


def _theirs(service: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    env = {
        k: _unescaped(str(v))
        for k, v in (service.get("environment") or {}).items()
        if v is not None
    }
    ports = []
    for p in service.get("ports") or []:
        published = p.get("published")
        ports.append(
            (
                p.get("host_ip", ""),
                None if published is None else int(published),
                int(p["target"]),
                p.get("protocol", "tcp"),
            )
        )
    volumes = [_their_volume(v) for v in service.get("volumes") or []]
    nets = service.get("networks") or {"default": None}
    networks = {n: sorted((body or {}).get("aliases") or []) for n, body in nets.items()}
    secrets = []
    for s in service.get("secrets") or []:
        body = s if isinstance(s, dict) else {"source": s}
        target = body.get("target") or body["source"]
        target = target if target.startswith("/") else f"/run/secrets/{target}"
        secrets.append((target, top["secrets"][body["source"]]["file"]))
    return {
        "ports": sorted(ports, key=repr),
        "environment": env,
        "volumes": volumes,
        "networks": networks,
        "command": _words(service.get("command")),
        "entrypoint": _words(service.get("entrypoint")),
        "healthcheck": _their_healthcheck(service.get("healthcheck")),
        "secrets": sorted(secrets),
    }


def _words(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(_unescaped(value))
    return [_unescaped(str(v)) for v in value]


def _unescaped(text: str) -> str:
    """1.29.2's ``config`` prints a literal ``$`` as written, ``$$``."""
    return text.replace("$$", "$")


def _their_volume(volume: Any) -> tuple[str, str, str, bool]:
    if isinstance(volume, dict):
        kind = volume["type"]
        return (kind, volume.get("source", ""), volume["target"], bool(volume.get("read_only")))
    parts = volume.split(":")
    if len(parts) == 1:
        return ("volume", "", parts[0], False)
    source, target = parts[0], parts[1]
    mode = parts[2] if len(parts) > 2 else "rw"
    kind = "bind" if source.startswith(("/", ".", PROJECT)) else "volume"
    return (kind, source, target, "ro" in mode.split(","))


def _their_healthcheck(check: dict[str, Any] | None) -> Any:
    if check is None:
        return None
    if check.get("disable"):
        return {"test": ["NONE"]}
    test = check["test"]
    words = ["CMD-SHELL", test] if isinstance(test, str) else test
    out: dict[str, Any] = {"test": [_unescaped(w) for w in words]}
    for key in ("interval", "timeout", "start_period"):
        if check.get(key) is not None:
            out[key] = parse_duration(check[key])
    if check.get("retries") is not None:
        out["retries"] = int(check["retries"])
    return out


def _ours(svc: ServiceSpec, folder: str) -> dict[str, Any]:
    def path(p: str) -> str:
        return p.replace(folder, PROJECT)

    files = dict(svc.file_digests)
    volumes = [
        (m.type.value, path(m.source), m.target, m.read_only)
        for m in svc.mounts
        if not (m.type is MountType.BIND and m.target in files)
    ]
    secrets = [
        (m.target, path(m.source))
        for m in svc.mounts
        if m.type is MountType.BIND and m.target.startswith("/run/secrets/") and m.target in files
    ]
    check = svc.healthcheck
    healthcheck: Any = None
    if check is not None:
        healthcheck = {"test": list(check.test)}
        for key in ("interval", "timeout", "start_period"):
            if getattr(check, f"{key}_s") is not None:
                healthcheck[key] = getattr(check, f"{key}_s")
        if check.retries is not None:
            healthcheck["retries"] = check.retries
    return {
        "ports": sorted(
            ((p.host_ip, p.published, p.target, p.protocol) for p in svc.ports), key=repr
        ),
        "environment": dict(svc.environment),
        "volumes": volumes,
        "networks": {n.name: sorted(n.aliases) for n in svc.networks} or {"default": []},
        "command": None if svc.command is None else list(svc.command),
        "entrypoint": None if svc.entrypoint is None else list(svc.entrypoint),
        "healthcheck": healthcheck,
        "secrets": sorted(secrets),
    }


@pytest.mark.parametrize("sample", SAMPLES)
def test_render_agrees_with_docker_compose_config(
    sample: str,
    envkit_corpus: dict[str, tuple[DesiredState | str, str]],
    oracle_configs: dict[str, Any],
) -> None:
    desired, folder = envkit_corpus[sample]
    assert isinstance(desired, DesiredState), desired
    config = oracle_configs[sample]
    theirs = config["services"]
    assert sorted(s.name for s in desired.services) == sorted(theirs)
    for svc in desired.services:
        ours = _ours(svc, os.path.realpath(folder))
        expected = _theirs(theirs[svc.name], config)
        for field, value in expected.items():
            assert ours[field] == value, (svc.name, field)

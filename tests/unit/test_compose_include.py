"""include: an envkit.yaml takes its services from an unchanged Compose file."""

from __future__ import annotations

from pathlib import Path

import pytest

from envkit.errors import StackError
from envkit.stackfile import read, resolve

STACKS = Path(__file__).resolve().parents[2] / "stacks"

COMPOSE = """\
services:
  web:
    image: envkit-test/busybox:latest
    labels: {rule: "Host(`{{ .Name }}`)"}
    ports: ["8080:80"]
volumes:
  data: {}
"""


def write(folder: Path, **files: str) -> Path:
    for name, text in files.items():
        (folder / name.replace("_", ".")).write_text(text)
    return folder


def problems(path: Path) -> list[str]:
    with pytest.raises(StackError) as caught:
        read(path)
    return [d.render() for d in caught.value.diagnostics]


def test_an_envkit_file_adds_environments_to_an_included_compose_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        compose_yaml=COMPOSE,
        envkit_yaml="stack: app\ninclude: [compose.yaml]\nvars: {port: 9000}\n"
        "environments:\n  dev:\n    services:\n"
        "      web: {ports: ['{{ port }}:80'], labels: {env: '{{ environment }}'}}\n",
    )
    desired = resolve(read(tmp_path / "envkit.yaml"), "dev", environ={}).desired
    (web,) = desired.services
    # The override (envkit's file) is Jinja; the included Compose file's label is not.
    assert dict(web.labels) == {"rule": "Host(`{{ .Name }}`)", "env": "dev"}
    assert [(p.published, p.target) for p in web.ports] == [(9000, 80)]
    assert [v.name for v in desired.volumes] == ["data"]


def test_errors_in_the_included_file_point_into_it(tmp_path: Path) -> None:
    write(
        tmp_path,
        compose_yaml=COMPOSE.replace("labels:", "develop: {}\n    labels:"),
        envkit_yaml="stack: app\ninclude: [{path: compose.yaml}]\n",
    )
    assert problems(tmp_path / "envkit.yaml") == [
        f"{tmp_path}/compose.yaml:4:5: error[unsupported-compose-key]: services.web.develop: "
        "Compose key 'develop' is not supported by envkit\n"
        "  hint: it drives 'docker compose watch', which envkit does not have; remove it, "
        "or keep it in a Compose override file that envkit is not given"
    ]


def test_a_service_on_both_sides_is_a_conflict(tmp_path: Path) -> None:
    write(
        tmp_path,
        compose_yaml=COMPOSE,
        envkit_yaml="stack: app\ninclude: [compose.yaml]\nservices:\n  web: {image: x}\n",
    )
    (line,) = problems(tmp_path / "envkit.yaml")
    assert line.startswith(
        f"{tmp_path}/envkit.yaml:4:3: error[include-conflict]: services.web: services.web is "
        f"also defined in the included file ({tmp_path}/compose.yaml:2:3)"
    )


@pytest.mark.parametrize(
    ("entry", "code"),
    [
        ("missing.yaml", "unreadable"),
        ("../elsewhere/compose.yaml", "include-elsewhere"),
        ("envkit.yaml", "include-cycle"),
        ("other.yaml", "include-envkit-file"),
    ],
)
def test_bad_includes_are_located_errors(tmp_path: Path, entry: str, code: str) -> None:
    (tmp_path / "elsewhere").mkdir()
    write(tmp_path / "elsewhere", compose_yaml=COMPOSE)
    write(
        tmp_path,
        other_yaml="stack: other\n",
        envkit_yaml=f"stack: app\ninclude: ['{entry}']\n",
    )
    with pytest.raises(StackError) as caught:
        read(tmp_path / "envkit.yaml")
    assert [d.code for d in caught.value.diagnostics] == [code]


def test_a_compose_file_may_include_another(tmp_path: Path) -> None:
    write(
        tmp_path,
        db_yaml="services:\n  db: {image: envkit-test/busybox:latest}\n",
        compose_yaml="include: [db.yaml]\n" + COMPOSE,
    )
    desired = resolve(read(tmp_path / "compose.yaml"), "default", environ={}).desired
    assert sorted(s.name for s in desired.services) == ["db", "web"]


def test_the_compose_app_example_keeps_its_compose_file_runnable_alone() -> None:
    folder = STACKS / "compose-app"
    alone = resolve(read(folder / "compose.yaml"), "default", environ={}).desired
    assert alone.project == "compose-app-default"
    with_envs = read(folder / "envkit.yaml")
    test = resolve(with_envs, "test", environ={}).desired
    web = next(s for s in test.services if s.name == "web")
    assert [(p.host_ip, p.published) for p in web.ports] == [("127.0.0.1", 8091)]
    assert dict(web.environment) == {"MODE": "test"}
    assert dict(web.labels)["traefik.http.routers.web.rule"] == "Host(`{{ .Name }}.localhost`)"
    ci = resolve(with_envs, "ci", environ={}, instance="abc123").desired
    assert next(s for s in ci.services if s.name == "web").ports[0].published is None  # random
    airgap = resolve(with_envs, "airgap", environ={}).desired
    assert {s.image for s in airgap.services} == {
        "registry.internal:5000/envkit-test/busybox:latest"
    }


def test_a_bundle_carries_every_file_the_stack_was_read_from() -> None:
    from envkit.bundle.save import STACK, _stack_files

    folder = STACKS / "compose-app"
    resolved = resolve(read(folder / "envkit.yaml"), "dev", environ={})
    names = {name.removeprefix(STACK) for name, _ in _stack_files(resolved, False).files}
    assert {"envkit.yaml", "compose.yaml"} <= names

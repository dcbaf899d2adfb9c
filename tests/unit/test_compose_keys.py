"""Compose keys envkit honours: profiles, depends_on.required, a volume's name:."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from envkit.cli import main
from envkit.errors import StackError
from envkit.stackfile import read, resolve
from envkit.stackfile.profiles import active_profiles

IMAGE = "envkit-test/busybox:latest"

PROFILES = f"""\
services:
  foo: {{image: {IMAGE}}}
  bar: {{image: {IMAGE}, profiles: [test]}}
  baz:
    image: {IMAGE}
    depends_on: [bar]
    profiles: [test]
  zot:
    image: {IMAGE}
    depends_on: {{bar: {{condition: service_started}}}}
    profiles: [debug]
"""


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def services(path: Path, *profiles: str, environ: dict[str, str] | None = None) -> list[str]:
    desired = resolve(read(path), "default", environ=environ or {}, profiles=profiles).desired
    return sorted(s.name for s in desired.services)


@pytest.fixture
def compose(tmp_path: Path) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(PROFILES)
    return path


def test_the_specs_profile_example(compose: Path) -> None:
    """Compose Specification, "Profiles", illustrative example."""
    assert services(compose) == ["foo"]
    assert services(compose, "test") == ["bar", "baz", "foo"]
    assert services(compose, "test", "debug") == ["bar", "baz", "foo", "zot"]
    assert services(compose, "*") == ["bar", "baz", "foo", "zot"]
    assert services(compose, environ={"COMPOSE_PROFILES": "debug, test"}) == [
        "bar",
        "baz",
        "foo",
        "zot",
    ]
    with pytest.raises(StackError) as caught:
        services(compose, "debug")
    (problem,) = caught.value.diagnostics
    assert problem.render() == (
        f"{compose}:10:23: error[profile-disabled]: services.zot.depends_on.bar: "
        "'zot' depends on "
        "'bar', which is not enabled by the active profiles (it has profiles: test)\n"
        "  hint: activate one: --profile test or COMPOSE_PROFILES=test; or mark the "
        "dependency 'required: false'"
    )


def test_a_dependency_that_is_not_required_is_dropped(compose: Path) -> None:
    compose.write_text(
        PROFILES.replace("{condition: service_started}", "{required: false}")
        + f"  qux:\n    image: {IMAGE}\n    depends_on: {{gone: {{required: false}}}}\n"
    )
    desired = resolve(read(compose), "default", environ={}, profiles=["debug"]).desired
    assert {s.name: [d.service for d in s.depends_on] for s in desired.services} == {
        "foo": [],
        "zot": [],
        "qux": [],
    }


def test_an_environment_can_activate_profiles(tmp_path: Path) -> None:
    path = tmp_path / "envkit.yaml"
    path.write_text(
        "stack: s\nenvironments:\n  dev: {}\n  test: {profiles: [test]}\nservices:\n"
        + PROFILES.split("services:\n", 1)[1]
    )
    doc = read(path)
    assert [s.name for s in resolve(doc, "dev", environ={}).desired.services] == ["foo"]
    assert sorted(s.name for s in resolve(doc, "test", environ={}).desired.services) == [
        "bar",
        "baz",
        "foo",
    ]


def test_active_profiles_come_from_every_source() -> None:
    got = active_profiles(["a", " "], {"COMPOSE_PROFILES": "b,,c"}, ["d", 1])
    assert got == frozenset({"a", "b", "c", "d"})


def test_cli_profile_option(compose: Path) -> None:
    code, out, err = run("-f", str(compose), "render", "--json", "--profile", "test")
    assert code == 0, err
    assert sorted(json.loads(out)["services"]) == ["bar", "baz", "foo"]
    assert run("-f", str(compose), "validate", "--profile", "debug")[0] == 2


VOLUMES = f"""\
services:
  db:
    image: {IMAGE}
    volumes: ["data:/data", "legacy:/legacy", "plain:/plain"]
volumes:
  data: {{external: true, name: shared-db-data}}
  legacy: {{external: {{name: old-style}}}}
  plain: {{}}
"""


def test_an_external_volume_is_mounted_under_its_name(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(VOLUMES)
    desired = resolve(read(path), "default", environ={}).desired
    project = desired.project
    assert [desired.volume_name(v) for v in ("data", "legacy", "plain")] == [
        "shared-db-data",
        "old-style",
        f"{project}_plain",
    ]


def test_a_fixed_name_on_a_volume_envkit_makes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(VOLUMES.replace("plain: {}", "plain: {name: fixed}"))
    with pytest.raises(StackError) as caught:
        resolve(read(path), "default", environ={})
    (problem,) = caught.value.diagnostics
    assert (problem.code, str(problem.origin)) == ("volume-name", f"{path}:8:17")
    assert "docker volume create fixed" in str(problem.hint)


EXPOSE = f"""\
services:
  web:
    image: {IMAGE}
    expose: [80, "53/udp", "3000-3002"]
    container_name: my-web
  db:
    image: {IMAGE}
"""


def test_expose_and_container_name_are_read(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(EXPOSE)
    desired = resolve(read(path), "default", environ={}).desired
    web = desired.services[0]
    assert web.expose == ("53/udp", "80/tcp", "3000/tcp", "3001/tcp", "3002/tcp")
    assert desired.container_of("web", 1) == "my-web"
    assert desired.container_of("db", 1) == f"{desired.project}-db-1"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (("expose: [80,", "expose: [http,"), "invalid-port"),
        (("    container_name: my-web\n", "    container_name: my-web\n    replicas: 2\n"),
         "container-name-replicas"),
        (("  db:\n    image:", "  db:\n    container_name: my-web\n    image:"),
         "duplicate-container-name"),
    ],
)  # fmt: skip
def test_expose_and_container_name_mistakes(
    tmp_path: Path, change: tuple[str, str], code: str
) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(EXPOSE.replace(*change))
    with pytest.raises(StackError) as caught:
        resolve(read(path), "default", environ={})
    assert [d.code for d in caught.value.diagnostics] == [code]


def test_container_name_is_refused_for_instances(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(EXPOSE)
    with pytest.raises(StackError) as caught:
        resolve(read(path), "default", environ={}, instance="ci1")
    (problem,) = caught.value.diagnostics
    assert (problem.code, str(problem.origin)) == ("container-name-instance", f"{path}:5:21")
    assert "container_name: null" in str(problem.hint)


def test_depends_on_restart_recreates_the_dependent_after_its_dependency(tmp_path: Path) -> None:
    from envkit.engine.fake import FakeEngine
    from envkit.reconcile.changes import Action
    from envkit.reconcile.plan import plan
    from envkit.reconcile.verbs import up

    path = tmp_path / "compose.yaml"
    text = (
        f"services:\n  db: {{image: {IMAGE}, environment: {{V: '{{v}}'}}}}\n"
        f"  web:\n    image: {IMAGE}\n    depends_on: {{db: {{condition: service_started, "
        "restart: true}}\n"
        f"  other: {{image: {IMAGE}, depends_on: [db]}}\n"
    )
    path.write_text(text.replace("{v}", "1"))
    engine = FakeEngine(images={IMAGE: "sha256:" + "1" * 64})
    up(resolve(read(path), "default", environ={}).desired, engine)
    path.write_text(text.replace("{v}", "2"))
    desired = resolve(read(path), "default", environ={}).desired
    changes = {c.service: c for c in plan(desired, engine.observe(desired)).changes}
    assert changes["db"].action is Action.RECREATE
    assert (changes["web"].action, changes["web"].reasons) == (
        Action.RECREATE,
        ("its dependency db is recreated (depends_on.db.restart)",),
    )
    assert changes["other"].action is Action.NOOP  # no restart: true
    up(desired, engine)
    assert not plan(desired, engine.observe(desired)).has_changes


SECRETS = f"""\
services:
  db:
    image: {IMAGE}
    secrets: [db-password, {{source: api-key, target: key.txt, mode: 0400}}]
    configs: [{{source: app, target: /etc/app.conf}}, app]
secrets:
  db-password: {{file: ./password.txt}}
  api-key: {{file: ./key.txt}}
configs:
  app: {{file: ./app.conf}}
"""


def test_secrets_and_configs_are_read_only_file_mounts(tmp_path: Path) -> None:
    from envkit.engine.fake import FakeEngine
    from envkit.reconcile.changes import Action
    from envkit.reconcile.plan import plan
    from envkit.reconcile.present import plan_text
    from envkit.reconcile.verbs import up

    for name, text in (("password.txt", "hunter2-pw"), ("key.txt", "k"), ("app.conf", "x=1")):
        (tmp_path / name).write_text(text)
    path = tmp_path / "compose.yaml"
    path.write_text(SECRETS)
    desired = resolve(read(path), "default", environ={}).desired
    (db,) = desired.services
    assert [(m.target, m.source, m.read_only) for m in db.mounts] == [
        ("/run/secrets/db-password", str(tmp_path / "password.txt"), True),
        ("/run/secrets/key.txt", str(tmp_path / "key.txt"), True),
        ("/etc/app.conf", str(tmp_path / "app.conf"), True),
        ("/app", str(tmp_path / "app.conf"), True),
    ]
    engine = FakeEngine(images={IMAGE: "sha256:" + "1" * 64})
    up(desired, engine)
    (tmp_path / "password.txt").write_text("hunter3-pw")
    changed = resolve(read(path), "default", environ={}).desired
    p = plan(changed, engine.observe(changed))
    (change,) = [c for c in p.changes if c.service == "db"]
    assert change.action is Action.RECREATE
    assert any(d.path.startswith("file_digests") for d in change.diffs)
    assert all(d.sensitive or "hunter" not in str(d.before) + str(d.after) for d in change.diffs)
    text = plan_text(p)
    assert "hunter" not in text


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (("[db-password,", "[nope,"), "unknown-secret"),
        (("{file: ./password.txt}", "{environment: PW}"), "unsupported-secret-source"),
        (("./password.txt", "./missing.txt"), "missing-secret-file"),
        (("./password.txt", "./"), "unreadable-secret-file"),
    ],
)
def test_secret_mistakes_are_located(tmp_path: Path, change: tuple[str, str], code: str) -> None:
    for name in ("password.txt", "key.txt", "app.conf"):
        (tmp_path / name).write_text("v")
    path = tmp_path / "compose.yaml"
    path.write_text(SECRETS.replace(*change))
    with pytest.raises(StackError) as caught:
        resolve(read(path), "default", environ={})
    assert [d.code for d in caught.value.diagnostics] == [code]
    assert all(
        d.origin is not None and d.origin.file == str(path) for d in caught.value.diagnostics
    )


def test_a_fifo_as_secret_file_is_refused_without_blocking(tmp_path: Path) -> None:
    import os

    for name in ("key.txt", "app.conf"):
        (tmp_path / name).write_text("v")
    os.mkfifo(tmp_path / "password.txt")  # reading it would block forever
    path = tmp_path / "compose.yaml"
    path.write_text(SECRETS)
    with pytest.raises(StackError) as caught:
        resolve(read(path), "default", environ={})
    assert [d.code for d in caught.value.diagnostics] == ["unreadable-secret-file"]


def test_a_huge_secret_file_is_refused(tmp_path: Path) -> None:
    for name in ("key.txt", "app.conf"):
        (tmp_path / name).write_text("v")
    with (tmp_path / "password.txt").open("wb") as f:
        f.truncate(2 * 1024 * 1024)
    path = tmp_path / "compose.yaml"
    path.write_text(SECRETS)
    with pytest.raises(StackError) as caught:
        resolve(read(path), "default", environ={})
    assert [d.code for d in caught.value.diagnostics] == ["secret-too-large"]


DEPLOY = f"""\
services:
  web:
    image: {IMAGE}
    deploy:
      replicas: 3
      resources: {{limits: {{cpus: "0.5", memory: 64m}}}}
      restart_policy: {{condition: on-failure, max_attempts: 4}}
  worker:
    image: {IMAGE}
    scale: 2
"""


def test_deploy_and_scale_on_one_engine(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(DEPLOY)
    web, worker = resolve(read(path), "default", environ={}).desired.services
    assert (web.replicas, web.cpus, web.mem_limit, web.restart) == (
        3,
        0.5,
        64 * 1024 * 1024,
        "on-failure:4",
    )
    assert worker.replicas == 2


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (("    scale: 2", "    scale: 2\n    replicas: 3"), "conflicting-keys"),
        (("condition: on-failure", "condition: sometimes"), "invalid-value"),
    ],
)
def test_deploy_mistakes(tmp_path: Path, change: tuple[str, str], code: str) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(DEPLOY.replace(*change))
    with pytest.raises(StackError) as caught:
        resolve(read(path), "default", environ={})
    assert [d.code for d in caught.value.diagnostics] == [code]


def test_swarm_only_deploy_keys_warn_on_one_engine(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(DEPLOY.replace("      replicas: 3", "      replicas: 3\n      placement: {}"))
    r = resolve(read(path), "default", environ={})
    [warning] = [w for w in r.rendered.warnings if w.code == "swarm-only"]
    assert warning.path[-1] == "placement" and warning.origin is not None
    assert "applies to a Docker Swarm" in warning.message


def test_container_options_are_read_and_diffed_by_their_compose_names(tmp_path: Path) -> None:
    from envkit.canonical import canonical_spec, spec_hash

    path = tmp_path / "compose.yaml"
    base = f"services:\n  app:\n    image: {IMAGE}\n"
    path.write_text(base)
    plain = resolve(read(path), "default", environ={}).desired.services[0]
    path.write_text(
        base + "    stop_signal: SIGINT\n    tty: true\n    ulimits: {nofile: 1024}\n"
        "    sysctls: [net.core.somaxconn=1024]\n    logging: {driver: local}\n"
        "    pid: host\n    devices: [/dev/fuse]\n    security_opt: [seccomp=unconfined]\n"
    )
    app = resolve(read(path), "default", environ={}).desired.services[0]
    spec = canonical_spec(app)
    assert spec["stop_signal"] == "SIGINT" and spec["tty"] is True
    assert spec["ulimits"] == [["nofile", 1024, 1024]]
    assert spec["sysctls"] == [["net.core.somaxconn", "1024"]]
    assert "options" not in spec and "options" not in canonical_spec(plain)
    assert "stop_signal" not in canonical_spec(plain)  # unset: the hash of old specs holds
    assert spec_hash(app) != spec_hash(plain)
    from envkit.stackfile.hostaccess import host_access

    found = host_access(resolve(read(path), "default", environ={}).desired)
    assert sorted(a.code for a in found) == ["host-device", "host-pid", "unconfined"]


def test_volumes_from_reads_services_and_containers(tmp_path: Path) -> None:
    from envkit.stackfile.hostaccess import host_access

    path = tmp_path / "compose.yaml"
    path.write_text(
        f"services:\n  db: {{image: {IMAGE}, volumes: [/data]}}\n"
        f"  backup:\n    image: {IMAGE}\n    volumes_from: ['db:ro', 'container:other']\n"
    )
    desired = resolve(read(path), "default", environ={}).desired
    backup = desired.services[1]
    assert backup.volumes_from == (("service", "db", "ro"), ("container", "other", "rw"))
    assert [d.service for d in backup.depends_on] == ["db"]
    assert [a.code for a in host_access(desired)] == ["foreign-container"]
    path.write_text(path.read_text().replace("'db:ro'", "'nope:ro'"))
    with pytest.raises(StackError) as caught:
        resolve(read(path), "default", environ={})
    assert [d.code for d in caught.value.diagnostics] == ["invalid-volumes-from"]

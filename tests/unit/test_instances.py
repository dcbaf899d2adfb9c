"""Instances (pure): ephemeral_ports, shared external volumes, ids, and envkit env's variables."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import pytest

from envkit.cli import main
from envkit.cli.commands.env import env_name, instance_variables, shell_lines
from envkit.engine.base import ObservedContainer, PortBinding
from envkit.errors import EnvkitError, StackError
from envkit.model import DesiredState, PortSpec, ServiceSpec
from envkit.stackfile.instances import INSTANCE_ID, new_instance_id, random_ports
from envkit.stackfile.pipeline import read, resolve

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "envkit.yaml"
    path.write_text(text)
    return path


STACK = """\
stack: shop
environments:
  ci: {ephemeral_ports: true}
  dev: {}
services:
  db:
    image: busybox
    ports: ["127.0.0.1:3307:3306", "53:53/udp", "9000"]
"""


def ports(path: Path, env: str, instance: str | None) -> tuple[PortSpec, ...]:
    return resolve(read(path), env, instance=instance).desired.service("db").ports


def test_instances_of_an_ephemeral_ports_environment_get_random_host_ports(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, STACK)
    assert ports(path, "ci", "x1") == (
        PortSpec(3306, "tcp", "127.0.0.1", None),
        PortSpec(53, "udp", "", None),
        PortSpec(9000, "tcp", "", None),
    )


def test_the_environment_itself_and_other_environments_keep_fixed_ports(tmp_path: Path) -> None:
    path = write(tmp_path, STACK)
    fixed = (
        PortSpec(3306, "tcp", "127.0.0.1", 3307),
        PortSpec(53, "udp", "", 53),
        PortSpec(9000, "tcp", "", None),
    )
    assert ports(path, "ci", None) == fixed
    assert ports(path, "dev", "x1") == fixed


def test_ephemeral_ports_false_keeps_fixed_ports(tmp_path: Path) -> None:
    path = write(tmp_path, STACK.replace("ephemeral_ports: true", "ephemeral_ports: false"))
    assert ports(path, "ci", "x1")[0].published == 3307


def test_a_templated_ephemeral_ports_is_a_located_error(tmp_path: Path) -> None:
    path = write(tmp_path, STACK.replace("ephemeral_ports: true", "ephemeral_ports: '{{ x }}'"))
    with pytest.raises(StackError) as info:
        resolve(read(path), "ci", instance="x1")
    assert info.value.render() == (
        f"{path}:3:25: error[invalid-type]: environments.ci.ephemeral_ports: "
        "'{{ x }}' is not true or false\n"
        "  hint: write true or false (this setting is read before templates are rendered)"
    )


def test_random_ports_is_pure_and_keeps_everything_else() -> None:
    svc = ServiceSpec("db", "busybox", ports=(PortSpec(3306, "tcp", "127.0.0.1", 3307),))
    desired = DesiredState("shop", "ci", "x1", (svc,))
    out = random_ports(desired)
    assert out.service("db").ports == (PortSpec(3306, "tcp", "127.0.0.1", None),)
    assert out.project == "shop-ci-x1"
    assert desired.service("db").ports[0].published == 3307  # the input is unchanged


SHARED = """\
stack: shop
environments: {ci: {}}
services:
  db:
    image: busybox
    volumes: ["cache:/cache", "seed:/seed:ro", "data:/data"]
volumes:
  cache: {external: true}
  seed: {external: true}
  data: {}
"""


def test_an_instance_refuses_an_external_volume_mounted_read_write(tmp_path: Path) -> None:
    path = write(tmp_path, SHARED)
    with pytest.raises(StackError) as info:
        resolve(read(path), "ci", instance="x1")
    assert info.value.render() == (
        f"{path}:6:14: error[shared-volume]: services.db.volumes: instance 'x1': service db "
        "mounts the external volume cache read-write, and every instance of shop-ci would "
        "share it\n"
        "  hint: mount it read-only (':ro'), or use a volume of the stack (each instance gets "
        "its own) instead of an external one"
    )
    # the environment itself may use it; read-only is fine for instances
    resolve(read(path), "ci")
    write(tmp_path, SHARED.replace("cache:/cache", "cache:/cache:ro"))
    resolve(read(path), "ci", instance="x1")


def test_new_instance_ids_are_short_unique_and_valid() -> None:
    ids = {new_instance_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 8 and INSTANCE_ID.fullmatch(i) for i in ids)


# -- envkit env -------------------------------------------------------------------------------


def container(service: str, replica: int, *ports: PortBinding) -> ObservedContainer:
    return ObservedContainer(
        id="c" * 64,
        name=f"p-{service}-{replica}",
        project="p",
        service=service,
        replica=replica,
        spec_hash="",
        spec={},
        image_id="",
        state="running",
        ports=ports,
    )


def test_env_names() -> None:
    assert env_name("db", "3306") == "ENVKIT_DB_3306"
    assert env_name("my-api.v2", "53_udp") == "ENVKIT_MY_API_V2_53_UDP"


def test_instance_variables() -> None:
    got = instance_variables(
        "web-ci-x1",
        "web",
        "ci",
        "x1",
        [
            container("db", 2, PortBinding(3306, "tcp", "127.0.0.1", 40002)),
            container(
                "db",
                1,
                PortBinding(3306, "tcp", "::", 40001),
                PortBinding(3306, "tcp", "0.0.0.0", 40001),
                PortBinding(53, "udp", "", 40053),
            ),
            container("v6-only", 1, PortBinding(80, "tcp", "::1", 40080)),
            container("worker", 1),
        ],
    )
    assert got == {
        "ENVKIT_PROJECT": "web-ci-x1",
        "ENVKIT_STACK": "web",
        "ENVKIT_ENV": "ci",
        "ENVKIT_INSTANCE": "x1",
        "ENVKIT_DB_53_UDP": "0.0.0.0:40053",
        "ENVKIT_DB_53_UDP_HOST": "0.0.0.0",
        "ENVKIT_DB_53_UDP_PORT": "40053",
        "ENVKIT_DB_3306": "0.0.0.0:40001",
        "ENVKIT_DB_3306_HOST": "0.0.0.0",
        "ENVKIT_DB_3306_PORT": "40001",
        "ENVKIT_V6_ONLY_80": "[::1]:40080",
        "ENVKIT_V6_ONLY_80_HOST": "::1",
        "ENVKIT_V6_ONLY_80_PORT": "40080",
    }


def test_services_whose_names_give_one_variable_are_an_error_naming_both() -> None:
    """Compose allows services ``Web`` and ``web``: one address must not silently stand
    for the other."""
    clashing = [
        container("Web", 1, PortBinding(80, "tcp", "127.0.0.1", 40080)),
        container("web", 1, PortBinding(80, "tcp", "127.0.0.1", 40081)),
        container("db-main", 1, PortBinding(5432, "tcp", "127.0.0.1", 40432)),
        container("db_main", 1, PortBinding(5433, "tcp", "127.0.0.1", 40433)),  # no clash
    ]
    with pytest.raises(EnvkitError) as caught:
        instance_variables("p", "s", "dev", None, clashing)
    assert caught.value.code == "env-name-clash"
    assert caught.value.detail == "  ENVKIT_WEB_80: services 'Web' and 'web'"
    assert "rename one" in (caught.value.hint or "")
    # Different ports of look-alike names give different variables: nothing to refuse.
    got = instance_variables("p", "s", "dev", None, clashing[2:])
    assert got["ENVKIT_DB_MAIN_5432"] == "127.0.0.1:40432"
    assert got["ENVKIT_DB_MAIN_5433"] == "127.0.0.1:40433"


def test_shell_lines_survive_eval_whatever_the_value() -> None:
    nasty = {"ENVKIT_A": 'it\'s $HOME `id` "q"\nnext', "ENVKIT_B": "", "ENVKIT_C": "a b"}
    script = (
        "\n".join(shell_lines(nasty)) + '\nprintf "%s|%s|%s" "$ENVKIT_A" "$ENVKIT_B" "$ENVKIT_C"'
    )
    out = subprocess.run(
        ["sh", "-c", 'eval "$(cat)"'], input=script, capture_output=True, text=True
    )
    assert out.stdout == "|".join(nasty.values())


# -- the command line, before any engine call ------------------------------------------------


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("up", "ci", "--ephemeral", "--ttl", "2x"),
            "error[usage]: --ttl '2x' is not a duration\n"
            "  hint: write a duration like 90s, 15m, 2h, 1d or 1h30m (a plain number is seconds)\n",
        ),
        (
            ("up", "ci", "--ephemeral", "--instance", "x1"),
            "error[usage]: --ephemeral and --instance exclude each other\n"
            "  hint: --ephemeral makes a new instance id; --instance ID names one\n",
        ),
        (
            ("up", "ci", "--instance", "CI_1"),
            "error[invalid-instance]: --instance 'CI_1' is not a valid instance id: 'C' at position 1 is "
            "not allowed\n"
            "  hint: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or "
            "digit\n",
        ),
        (
            ("env", "ci", "--instance", "a.b"),
            "error[invalid-instance]: --instance 'a.b' is not a valid instance id: '.' at position 2 is "
            "not allowed\n"
            "  hint: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or "
            "digit\n",
        ),
        (
            ("gc", "--include-unexpiring"),
            "error[usage]: --include-unexpiring needs --older-than\n"
            "  hint: instances without an expiry are only reaped by age: e.g. "
            "'envkit gc --older-than 1d --include-unexpiring'\n",
        ),
        (
            ("gc", "--older-than", "1d2"),
            "error[usage]: --older-than '1d2' is not a duration\n"
            "  hint: write a duration like 90s, 15m, 2h, 1d or 1h30m (a plain number is seconds)\n",
        ),
        (
            ("env", "ci", "--format", "yaml"),
            "error[usage]: argument --format: invalid choice: 'yaml' (choose from 'shell', "
            "'json')\n  hint: run 'envkit env --help' for usage\n",
        ),
    ],
)
def test_bad_command_lines_exit_2_with_the_exact_message(
    tmp_path: Path, argv: tuple[str, ...], message: str
) -> None:
    path = write(tmp_path, STACK)
    code, out, err = cli("-f", str(path), *argv)
    assert (code, out, err) == (2, "", message)


def test_render_of_an_instance_shows_its_random_ports(tmp_path: Path) -> None:
    path = write(tmp_path, STACK)
    code, out, _ = cli("-f", str(path), "render", "ci", "--instance", "x1", "--json")
    assert code == 0
    [db] = json.loads(out)["services"].values()
    assert [p["published"] for p in db["ports"]] == [None, None, None]


def test_the_example_stack_ci_environment_has_random_ports_for_instances() -> None:
    desired = resolve(read(ROOT / "stacks" / "web.yaml"), "ci", instance="x1").desired
    assert desired.service("api").ports == (PortSpec(8000, "tcp", "127.0.0.1", None),)

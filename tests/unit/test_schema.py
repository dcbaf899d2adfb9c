"""schema.validate: every error at once, located, in plain English (exact messages)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envkit.stackfile.document import Document, parse
from envkit.stackfile.schema import schema, validate, validate_tree


def doc_of(text: str) -> Document:
    return parse(text, path=Path("/stacks/stack.yaml"), display="stack.yaml")


def rendered(text: str) -> list[str]:
    return [d.render() for d in validate(doc_of(text))]


def service(body: str) -> str:
    """A stack with one service ``db`` whose body (indented 4) is ``body``."""
    lines = "".join(f"    {line}\n" for line in body.splitlines())
    return f"stack: shop\nservices:\n  db:\n    image: mysql:5.7\n{lines}"


CASES = [
    (
        "unknown-key-did-you-mean",
        service("enviroment: {A: 1}"),
        "stack.yaml:5:5: error[unknown-key]: services.db.enviroment: unknown key 'enviroment'\n"
        "  hint: did you mean 'environment'?",
    ),
    (
        "unknown-top-level-key",
        "stack: shop\nservice: {}\n",
        "stack.yaml:2:1: error[unknown-key]: service: unknown key 'service'\n"
        "  hint: did you mean 'services'?",
    ),
    (
        "unknown-key-without-a-close-match",
        "stack: shop\nvolumes:\n  data: {zzz: 1}\n",
        "stack.yaml:3:10: error[unknown-key]: volumes.data.zzz: unknown key 'zzz'\n"
        "  hint: the keys here are: driver, driver_opts, external, labels, name",
    ),
    (
        "bad-compose-name",
        "name: My App\nservices: {}\n",
        "stack.yaml:1:7: error[invalid-name]: name: 'My App' is not a valid project name\n"
        "  hint: Compose project names use lowercase letters, digits, '_' and '-', starting"
        " with a letter or digit",
    ),
    (
        "unsupported-compose-key",
        service("develop: {watch: []}"),
        "stack.yaml:5:5: error[unsupported-compose-key]: services.db.develop: Compose key"
        " 'develop' is not supported by envkit\n"
        "  hint: it drives 'docker compose watch', which envkit does not have; remove it, or"
        " keep it in a Compose override file that envkit is not given",
    ),
    (
        "unsupported-compose-key-generic-hint",
        service("cpu_shares: 512"),
        "stack.yaml:5:5: error[unsupported-compose-key]: services.db.cpu_shares: Compose key"
        " 'cpu_shares' is not supported by envkit\n"
        "  hint: envkit cannot honour it yet; remove it (or rename it to 'x-...', which envkit"
        " and Compose ignore) to run the file with envkit",
    ),
    (
        "bad-stack-name",
        "stack: My Shop\n",
        "stack.yaml:1:8: error[invalid-name]: stack: 'My Shop' is not a valid stack name\n"
        "  hint: use lowercase letters, digits, '_' and '-', starting with a letter or digit",
    ),
    (
        "integer-expected",
        service("replicas: abc"),
        "stack.yaml:5:15: error[wrong-type]: services.db.replicas: expected a whole number"
        " from 0 to 1000, got 'abc'",
    ),
    (
        "negative-replicas",
        service("replicas: -1"),
        "stack.yaml:5:15: error[invalid-value]: services.db.replicas: must be at least 0, got -1",
    ),
    (
        "boolean-expected",
        service("privileged: yes"),
        "stack.yaml:5:17: error[wrong-type]: services.db.privileged: expected true or false,"
        " got 'yes'",
    ),
    (
        "string-expected",
        service("hostname: [a]"),
        "stack.yaml:5:15: error[wrong-type]: services.db.hostname: expected a string, got a list",
    ),
    (
        "mapping-expected",
        "stack: shop\nservices: [db]\n",
        "stack.yaml:2:11: error[wrong-type]: services: expected a mapping, got a list",
    ),
    (
        "bad-protocol",
        service('ports: ["54321:5432/tpc"]'),
        "stack.yaml:5:13: error[invalid-port]: services.db.ports[0]: '54321:5432/tpc' is not a"
        " port mapping\n"
        "  hint: write [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp], e.g. '8080:80' or"
        " '53:53/udp'",
    ),
    (
        "port-words",
        service('ports: ["http:80"]'),
        "stack.yaml:5:13: error[invalid-port]: services.db.ports[0]: 'http:80' is not a port"
        " mapping\n"
        "  hint: write [[HOST_IP:]HOST_PORT:]CONTAINER_PORT[/tcp|udp|sctp], e.g. '8080:80' or"
        " '53:53/udp'",
    ),
    (
        "port-out-of-range",
        service("ports: [70000]"),
        "stack.yaml:5:13: error[invalid-value]: services.db.ports[0]: must be at most 65535,"
        " got 70000",
    ),
    (
        "port-wrong-type",
        service("ports: [true]"),
        "stack.yaml:5:13: error[wrong-type]: services.db.ports[0]: expected a port mapping"
        " ('8080:80'), a container port (80) or {target, published, host_ip, protocol},"
        " got true",
    ),
    (
        "long-port-target",
        service("ports: [{target: abc, published: 1-x}]"),
        "stack.yaml:5:22: error[wrong-type]: services.db.ports[0].target: expected a port"
        " from 1 to 65535, got 'abc'\n"
        "stack.yaml:5:38: error[invalid-port]: services.db.ports[0].published: '1-x' is not a"
        " port or a port range\n"
        "  hint: write a port (8080) or a range (9000-9002)",
    ),
    (
        "long-port-missing-target",
        service("ports: [{published: 8080}]"),
        "stack.yaml:5:13: error[missing-key]: services.db.ports[0]: missing key 'target'\n"
        "  hint: add 'target:' here",
    ),
    (
        "bad-duration",
        service("healthcheck: {test: [CMD, ok], interval: 2x}"),
        "stack.yaml:5:46: error[invalid-duration]: services.db.healthcheck.interval: '2x' is not"
        " a duration\n"
        "  hint: write a number with a unit: 500ms, 2s, 1m30s, 1h",
    ),
    (
        "duration-number",
        service("stop_grace_period: 10"),
        "stack.yaml:5:24: error[wrong-type]: services.db.stop_grace_period: expected a duration,"
        " got 10\n"
        "  hint: A duration like 1m30s, 500ms, 2s or 1h.",
    ),
    (
        "healthcheck-form",
        service("healthcheck: {test: [RUN, x]}"),
        "stack.yaml:5:26: error[invalid-value]: services.db.healthcheck.test[0]: 'RUN' is not one"
        " of: CMD, CMD-SHELL, NONE\n"
        "  hint: use one of: CMD, CMD-SHELL, NONE",
    ),
    (
        "enum-did-you-mean",
        service("volumes: [{type: volme, target: /d}]"),
        "stack.yaml:5:22: error[invalid-value]: services.db.volumes[0].type: 'volme' is not one"
        " of: volume, bind, tmpfs\n"
        "  hint: did you mean 'volume'?",
    ),
    (
        "pull-policy",
        service("pull_policy: every_day"),
        "stack.yaml:5:18: error[invalid-pull-policy]: services.db.pull_policy: 'every_day' is"
        " not a pull policy\n"
        "  hint: use always, missing, never, build, daily, weekly or every_<duration>"
        " (every_12h, every_30m)",
    ),
    (
        "restart-policy",
        service("restart: sometimes"),
        "stack.yaml:5:14: error[invalid-value]: services.db.restart: 'sometimes' is not a restart"
        " policy\n"
        "  hint: use no, always, on-failure, on-failure:N or unless-stopped (quote 'no')",
    ),
    (
        "depends-on-condition",
        service("depends_on: {web: {condition: service_up}}"),
        "stack.yaml:5:35: error[invalid-value]: services.db.depends_on.web.condition:"
        " 'service_up' is not one of: service_started, service_healthy,"
        " service_completed_successfully\n"
        "  hint: did you mean 'service_started'?",
    ),
    (
        "volume-without-target",
        service('volumes: ["data"]'),
        "stack.yaml:5:15: error[invalid-volume]: services.db.volumes[0]: 'data' is not a volume"
        " mount\n"
        "  hint: write NAME:/container/path, ./host/path:/container/path or"
        " /host/path:/container/path, with :ro for read-only",
    ),
    (
        "long-volume-all-errors",
        service("volumes: [{type: nfs}]"),
        "stack.yaml:5:15: error[missing-key]: services.db.volumes[0]: missing key 'target'\n"
        "  hint: add 'target:' here\n"
        "stack.yaml:5:22: error[invalid-value]: services.db.volumes[0].type: 'nfs' is not one of:"
        " volume, bind, tmpfs\n"
        "  hint: use one of: volume, bind, tmpfs",
    ),
    (
        "environment-value",
        service("environment: {A: [1]}"),
        "stack.yaml:5:22: error[wrong-type]: services.db.environment.A: expected a string,"
        " number, boolean or null, got a list",
    ),
    (
        "mem-limit",
        service("mem_limit: 1q"),
        "stack.yaml:5:16: error[invalid-value]: services.db.mem_limit: '1q' is not a size\n"
        "  hint: write bytes as a number, or with a unit: 512m, 1g",
    ),
    (
        "variable-name",
        "stack: shop\nvars: {my-var: 1}\n",
        "stack.yaml:2:8: error[invalid-name]: vars.my-var: 'my-var' is not a valid variable name\n"
        "  hint: a variable name is letters, digits and _, not starting with a digit",
    ),
    (
        "environment-keys",
        "stack: shop\nenvironments:\n  dev: {var: {}, ephemeral_ports: maybe}\n",
        "stack.yaml:3:9: error[unknown-key]: environments.dev.var: unknown key 'var'\n"
        "  hint: did you mean 'vars'?\n"
        "stack.yaml:3:35: error[wrong-type]: environments.dev.ephemeral_ports: expected true or"
        " false, got 'maybe'",
    ),
    (
        "env-file-form",
        "stack: shop\nenvironments:\n  dev: {env_file: [{required: false}]}\n",
        "stack.yaml:3:20: error[missing-key]: environments.dev.env_file[0]: missing key 'path'\n"
        "  hint: add 'path:' here",
    ),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_values_have_exact_messages(text: str, expected: str) -> None:
    assert "\n".join(rendered(text)) == expected


def test_all_errors_at_once_sorted_by_position() -> None:
    text = service("replicas: x\nports: ['a']\nrestart: nope\nhostnme: h")
    lines = [r.split(": error")[0] for r in rendered(text)]
    assert lines == ["stack.yaml:5:15", "stack.yaml:6:13", "stack.yaml:7:14", "stack.yaml:8:5"]


VALID_FORMS = """\
stack: shop
x-common: &common {restart: unless-stopped}
vars: {port: 8080, n: 2}
sensitive: [db_password]
environments:
  dev:
    vars: {port: 8081}
    env_file: [.env, {path: .env.dev, required: false}]
    services:
      db: {replicas: "{{ n }}", ports: ["{{ port }}:3306"]}
  ci: {ephemeral_ports: true, env_file: .env.ci, description: throwaway}
services:
  db:
    <<: *common
    image: "{{ image | default('mysql:5.7') }}"
    build: {context: ., dockerfile: Dockerfile, args: [A=1], target: prod}
    command: [mysqld, --port, 3306]
    entrypoint: /bin/sh -c
    environment: [A=1, B]
    env_file: [x.env]
    ports:
      - "8080:80"
      - "127.0.0.1:8081:80"
      - "80"
      - 81
      - "53:53/udp"
      - "9000-9002:9000-9002"
      - "[::1]:8082:80"
      - "127.0.0.1::83"
      - {target: 84, published: "8084", host_ip: 0.0.0.0, protocol: tcp, mode: host}
      - {target: "{{ port }}", published: "{{ port }}"}
      - "{{ port }}:3306"
    volumes:
      - data:/var/lib/mysql
      - ./conf:/etc/mysql/conf.d:ro
      - /abs:/abs:rw
      - /anonymous
      - {type: tmpfs, target: /run, tmpfs: {size: 64m}}
      - {type: bind, source: ., target: /src, read_only: "{{ ro }}"}
    depends_on: {web: {condition: service_healthy}}
    healthcheck:
      test: [CMD-SHELL, "mysqladmin ping"]
      interval: 1m30s
      timeout: 500ms
      start_period: "{{ grace }}"
      retries: 3
      disable: false
    restart: on-failure:3
    labels: {a: b, c: 1}
    user: 1000
    working_dir: /srv
    hostname: db
    extra_hosts: ["db.local:10.0.0.5", "v6:::1"]
    cap_add: [NET_ADMIN]
    cap_drop: [ALL]
    privileged: false
    tmpfs: [/tmp, /run]
    init: true
    stop_grace_period: 10s
    mem_limit: 1g
    cpus: "0.5"
    replicas: 0
    pull_policy: if_not_present
  web:
    build: ./web
    depends_on: [db]
    healthcheck: {test: "curl -f localhost", interval: "{{ i }}"}
    extra_hosts: {db.local: 10.0.0.5}
    mem_limit: 1073741824
    cpus: 2
    restart: "no"
volumes:
  data:
  cache: {driver: local, driver_opts: {type: tmpfs}, labels: [a=b], external: false, name: x}
"""


def test_every_documented_form_is_valid() -> None:
    assert rendered(VALID_FORMS) == []


def test_validate_tree_uses_the_locator() -> None:
    doc = doc_of("stack: shop\nservices:\n  db: {image: x}\n")
    tree = {"stack": "shop", "services": {"db": {"image": "x", "replicas": "2"}}}
    [diag] = validate_tree(tree, doc)
    assert diag.render() == (
        "stack.yaml:3:7: error[wrong-type]: services.db.replicas: expected a whole number"
        " from 0 to 1000, got '2'"
    )


def test_the_schema_is_a_valid_2020_12_schema_and_matches_the_file() -> None:
    from jsonschema import Draft202012Validator

    loaded = schema()
    Draft202012Validator.check_schema(loaded)
    assert loaded["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    root = Path(__file__).resolve().parents[2]
    assert loaded == json.loads((root / "schemas" / "stack.schema.json").read_text())


def test_importing_schema_does_not_import_jsonschema() -> None:
    import subprocess
    import sys

    code = "import sys, envkit.stackfile.schema; print('jsonschema' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True
    )
    assert out.stdout.strip() == "False"

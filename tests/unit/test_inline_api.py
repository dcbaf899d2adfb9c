"""The single-service case in one file: an inline stack (dict or YAML text),
``Environment.exec`` and connection URLs whose repr never shows the password."""

from __future__ import annotations

from pathlib import Path

import pytest

import envkit
from envkit.connection import connection_url
from envkit.engine.base import ExecResult
from envkit.engine.fake import FakeEngine
from envkit.errors import EnvkitError, StackError

STACK = {
    "stack": "one",
    "environments": {"test": {}},
    "services": {"db": {"image": "img", "ports": ["127.0.0.1::3306"]}},
}


def _engine() -> FakeEngine:
    eng = FakeEngine()
    eng.add_image("img")
    return eng


def test_a_dict_and_yaml_text_are_stacks(tmp_path: Path) -> None:
    eng = _engine()
    stack = envkit.from_dict(STACK, engine=eng, base_dir=tmp_path)
    assert stack.name == "one" and stack.environments == ("test",)
    with stack.ephemeral("test", wait=False, watchdog=False) as env:
        assert env.services == ("db",)
        eng.exec_results["db"] = ExecResult(0, b"42\n")
        assert env.exec("db", "select 42") == (0, "42\n")
        assert eng.execs[-1] == (f"{env.project}-db-1", ("sh", "-c", "select 42"))
        assert env.exec("db", ["true"])[0] == 0
    text = "stack: two\nenvironments: {test: {}}\nservices:\n  db: {image: img}\n"
    assert envkit.loads(text, engine=eng).name == "two"


def test_inline_stack_errors_are_located_in_the_text() -> None:
    with pytest.raises(StackError) as bad:
        envkit.loads("stack: x\nenvironments: {test: {}}\nservices:\n  db: {imag: img}\n")
    assert str(bad.value.diagnostics[0].origin) == "<inline stack>:4:8"
    assert "unknown key 'imag'" in str(bad.value)
    with pytest.raises(EnvkitError, match="cannot be written as YAML"):
        envkit.from_dict({"stack": object()})


def test_exec_in_a_stopped_service_is_not_running(tmp_path: Path) -> None:
    eng = _engine()
    env = envkit.from_dict(STACK, engine=eng).up("test", instance="i1", wait=False)
    eng.set_state(f"{env.project}-db-1", "exited", exit_code=0)
    with pytest.raises(EnvkitError) as stopped:
        env.exec("db", "true")
    assert stopped.value.code == "not-running"


def test_connection_urls_encode_and_mask_the_password() -> None:
    url = connection_url(
        "mysql", "127.0.0.1", 49153, user="root", password="p@ss:w/rd", path="shop"
    )
    assert url == "mysql://root:p%40ss%3Aw%2Frd@127.0.0.1:49153/shop"
    assert repr(url) == "'mysql://root:***@127.0.0.1:49153/shop'"
    assert "p@ss" not in repr([url]) and "p%40ss" not in f"{url!r}"
    assert connection_url("postgresql", "::1", 5432, user="u") == "postgresql://u@[::1]:5432"
    assert connection_url("http", "h", 80) == "http://h:80"


def test_environment_url_uses_the_published_port(tmp_path: Path) -> None:
    eng = _engine()
    env = envkit.from_dict(STACK, engine=eng).up("test", instance="i2", wait=False)
    host, port = env.port("db", 3306)
    url = env.url("db", 3306, scheme="mysql", user="root", password="secret", path="app")
    assert url == f"mysql://root:secret@{host}:{port}/app"
    assert "secret" not in repr(url)

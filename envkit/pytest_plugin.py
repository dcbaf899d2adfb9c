"""envkit's pytest plugin (entry point ``pytest11``): throwaway instances as fixtures.

Configuration (``pytest.ini``/``pyproject.toml``; relative paths are from the rootdir)::

    [pytest]
    envkit_stack_file = envkit.yaml    # the stack file
    envkit_environment = ci            # the environment `envkit_env` brings up
    envkit_ttl = 1h                    # expiry stamped on every instance (gc's last resort)
    envkit_scope = session             # how long one instance serves: session|package|module|class
    envkit_watchdog = true             # remove instances even when pytest is SIGKILLed
    envkit_log_lines = 20              # last log lines per service attached to a failure

``pytest --envkit-debug`` shows envkit's own traceback when envkit fails (see below).

Fixtures and helpers:

- ``envkit_env``: the instance of the configured environment, or of the one a marker names
  (``@pytest.mark.envkit(env="ci", stack="other.yaml", scope="module", vars={...})``). One
  ephemeral instance per (stack, environment, vars) and scope, brought up with ``wait=True``
  on first use and torn down (volumes too) when its scope ends.
- ``envkit_stack``: the :class:`envkit.api.Stack` of ``envkit_stack_file``.
- :func:`envkit_fixture`: a named fixture of its own scope, for a conftest:
  ``db = envkit_fixture("ci", scope="module")``.

When an envkit error fails a test (or its setup), its report is that error as the CLI
prints it (file:line:col, what is wrong, the hint, the logs it carries), then the frames of
the test's own code; envkit's internal frames and the Docker SDK's chained exceptions are
left out unless ``--envkit-debug`` is given. When a test fails, the logs of every envkit
instance it used are attached to its report (section ``envkit logs: PROJECT``): the last lines of an unhealthy or exited service (only
those when one is in trouble), else the last lines of each. Every instance gets a watchdog (:mod:`envkit.watchdog`), so a
killed pytest leaves nothing behind; whatever a crash leaves anyway expires by its ttl.

Importing this module costs nothing beyond pytest: envkit's API (and Docker) load only when
one of its fixtures is used.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Generator, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from typing import TypeAlias

    from envkit.api import Environment, Stack

    # A stack file's path, or a stack inline: a dict, YAML text, or an envkit.api.Stack.
    StackSource: TypeAlias = str | Path | Mapping[str, Any] | Stack | None

__all__ = ["envkit_fixture"]

SCOPES = ("session", "package", "module", "class", "function")
MARKER = (
    "envkit(env=None, *, stack=None, scope=None, vars=None, ttl=None): the envkit "
    "environment (and stack file) the envkit_env fixture brings up for this test"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--envkit-debug",
        action="store_true",
        default=False,
        help="envkit: on an envkit error, show envkit's own traceback too",
    )
    parser.addini("envkit_stack_file", "envkit: the stack file", default="envkit.yaml")
    parser.addini("envkit_environment", "envkit: the environment envkit_env brings up")
    parser.addini("envkit_ttl", "envkit: expiry of every instance (e.g. 1h)", default="1h")
    parser.addini(
        "envkit_scope", "envkit: scope of one instance (session, module, ...)", default="session"
    )
    parser.addini(
        "envkit_watchdog", "envkit: watchdog against a killed pytest", type="bool", default=True
    )
    parser.addini("envkit_log_lines", "envkit: last log lines per service on failure", default="20")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    config.stash[_MANAGER] = _Instances(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    """The safety net: anything a scope did not tear down (an interrupted session) goes."""
    manager = config.stash.get(_MANAGER, None)
    if manager is not None:
        manager.close_all()


# -- the instances ------------------------------------------------------------------------------


class _Instances:
    """Every instance this pytest run brought up, keyed by what identifies it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._stacks: dict[Path, Stack] = {}
        self._live: dict[tuple[Any, ...], tuple[Environment, contextlib.ExitStack]] = {}
        self._failed: dict[tuple[Any, ...], Exception] = {}

    def base_dir(self) -> Path:
        inipath = self.config.inipath
        return inipath.parent if inipath is not None else self.config.rootpath

    def stack(self, path: StackSource = None) -> Stack:
        """The stack file at ``path`` (default: ``envkit_stack_file``), or an inline stack:
        a dict, YAML text (anything with a newline) or a :class:`~envkit.api.Stack`."""
        from envkit.api import Stack, from_dict, load, loads

        if isinstance(path, Stack):
            return path
        if isinstance(path, Mapping):
            return from_dict(path, base_dir=self.base_dir())
        if isinstance(path, str) and "\n" in path:
            return loads(path, base_dir=self.base_dir())
        chosen = Path(path or str(self.config.getini("envkit_stack_file")))
        full = chosen if chosen.is_absolute() else self.base_dir() / chosen
        if full not in self._stacks:
            self._stacks[full] = load(full)
        return self._stacks[full]

    def up(
        self,
        key: tuple[Any, ...],
        environment: str,
        *,
        stack: StackSource,
        vars: Mapping[str, Any] | None,
        ttl: str | None,
    ) -> tuple[Environment, bool]:
        """The live instance for ``key``, bringing it up when there is none (-> new)."""
        if key in self._live:
            return self._live[key][0], False
        if key in self._failed:  # one failed up per scope, not one per test
            raise self._failed[key]
        exits = contextlib.ExitStack()
        try:
            env = exits.enter_context(
                self.stack(stack).ephemeral(
                    environment,
                    ttl=ttl or str(self.config.getini("envkit_ttl")) or None,
                    vars=vars,
                    wait=True,
                    watchdog=bool(self.config.getini("envkit_watchdog")),
                )
            )
        except Exception as exc:
            self._failed[key] = exc
            raise
        self._live[key] = (env, exits)
        return env, True

    def close(self, key: tuple[Any, ...]) -> None:
        entry = self._live.pop(key, None)
        if entry is not None:
            entry[1].close()

    def close_all(self) -> None:
        for key in list(self._live):
            with contextlib.suppress(Exception):
                self.close(key)


_MANAGER = pytest.StashKey[_Instances]()


def _manager(config: pytest.Config) -> _Instances:
    return config.stash[_MANAGER]


def _scope_node(request: pytest.FixtureRequest, scope: str) -> pytest.Item | pytest.Collector:
    node: pytest.Item | pytest.Collector | None = None
    if scope == "session":
        return request.session
    if scope == "package":
        node = request.node.getparent(pytest.Package)
    elif scope == "module":
        node = request.node.getparent(pytest.Module)
    elif scope == "class":
        node = request.node.getparent(pytest.Class)
    return node if node is not None else request.node


def _check_scope(scope: str, where: str) -> str:
    if scope not in SCOPES:
        raise pytest.UsageError(f"{where}: scope {scope!r} is not one of {', '.join(SCOPES)}")
    return scope


@pytest.fixture(scope="session")
def envkit_stack(request: pytest.FixtureRequest) -> Stack:
    """The stack of the ``envkit_stack_file`` ini option (default ``envkit.yaml``)."""
    return _manager(request.config).stack()


@pytest.fixture
def envkit_env(request: pytest.FixtureRequest) -> Environment:
    """An ephemeral instance of the environment the ``envkit`` marker or the
    ``envkit_environment`` ini option names, shared by every test of its scope."""
    marker = request.node.get_closest_marker("envkit")
    kwargs: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    args = marker.args if marker is not None else ()
    environment = kwargs.pop("env", None) or (args[0] if args else None)
    environment = environment or str(request.config.getini("envkit_environment") or "")
    if not environment:
        raise pytest.UsageError(
            "envkit_env: no environment named; set envkit_environment in the pytest ini "
            "file or mark the test @pytest.mark.envkit(env='NAME')"
        )
    stack = kwargs.pop("stack", None)
    vars_ = kwargs.pop("vars", None) or {}
    ttl = kwargs.pop("ttl", None)
    scope = kwargs.pop("scope", None) or str(request.config.getini("envkit_scope"))
    _check_scope(scope, "envkit")
    if kwargs:
        raise pytest.UsageError(f"@pytest.mark.envkit: unknown arguments {sorted(kwargs)}")
    manager = _manager(request.config)
    node = _scope_node(request, scope)
    key = (
        _stack_key(manager, stack),
        environment,
        tuple(sorted((str(k), str(v)) for k, v in vars_.items())),
        ttl,
        node.nodeid,
    )
    env, new = manager.up(key, environment, stack=stack, vars=vars_, ttl=ttl)
    if new:
        node.addfinalizer(lambda: manager.close(key))
    return env


def _stack_key(manager: _Instances, stack: StackSource) -> str:
    """What tells two stacks apart: the file's path, or an inline stack's content."""
    import json

    if isinstance(stack, Mapping):
        return json.dumps(stack, sort_keys=True, default=str)
    if isinstance(stack, str) and "\n" in stack:
        return stack
    if stack is not None and not isinstance(stack, str | Path):
        return f"stack-object:{id(stack)}"
    return str(manager.stack(stack).path)


def envkit_fixture(
    environment: str,
    *,
    stack: StackSource = None,
    scope: str = "session",
    vars: Mapping[str, Any] | None = None,
    ttl: str | None = None,
    name: str | None = None,
) -> Any:
    """A fixture (assign it to a name in a conftest) yielding an ephemeral instance of
    ``environment``, up (``wait=True``) for ``scope`` and then torn down with its volumes::

        db = envkit_fixture("ci", scope="module")

        def test_db(db):
            host, port = db.port("db", 3306)

    ``stack``: a stack file, or the stack inline (a dict or YAML text) for a test module
    that needs one service and no other file.
    """
    _check_scope(scope, f"envkit_fixture({environment!r})")
    frozen = dict(vars or {})

    def instance(request: pytest.FixtureRequest) -> Iterator[Environment]:
        manager = _manager(request.config)
        key = ("fixture", id(instance), request.node.nodeid)
        env, _ = manager.up(key, environment, stack=stack, vars=frozen, ttl=ttl)
        try:
            yield env
        finally:
            manager.close(key)

    instance.__name__ = name or f"envkit_{environment}"
    decorate: Callable[[Any], Any] = pytest.fixture(scope=scope, name=name)  # type: ignore[call-overload]
    return decorate(instance)


# -- logs on failure ------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed and report.when in ("setup", "call") and "envkit.api" in sys.modules:
        with contextlib.suppress(Exception):  # a report must never fail because of us
            _attach(item, call, report)
    return report


def _attach(item: pytest.Item, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    from envkit.api import Environment
    from envkit.errors import EnvkitError

    excinfo = call.excinfo
    if excinfo is not None and isinstance(excinfo.value, EnvkitError):
        if item.config.getoption("envkit_debug", False):
            report.sections.append(("envkit error", excinfo.value.render()))
        else:
            report.longrepr = short_failure(excinfo, item.config.rootpath)
    funcargs: Mapping[str, Any] = getattr(item, "funcargs", {})
    seen: set[str] = set()
    lines = _int(item.config.getini("envkit_log_lines"), 20)
    for value in funcargs.values():
        if isinstance(value, Environment) and value.project not in seen:
            seen.add(value.project)
            report.sections.append((f"envkit logs: {value.project}", failure_logs(value, lines)))


def short_failure(excinfo: pytest.ExceptionInfo[BaseException], rootdir: Path) -> str:
    """An envkit error as a report: the error as the CLI renders it (where, what, hint,
    the logs it carries), then the frames of the user's code under ``rootdir`` (the test,
    its conftest). envkit's frames, pytest's, the standard library's and the Docker SDK's
    (its chained exceptions) are left out: they explain envkit, not the test."""
    import envkit
    from envkit.errors import EnvkitError

    package = Path(envkit.__file__).resolve().parent
    root = rootdir.resolve()
    frames: list[str] = []
    for entry in excinfo.traceback:
        path = Path(str(entry.path)).resolve()
        if not path.is_relative_to(root) or path.is_relative_to(package):
            continue
        if "site-packages" in path.parts:  # a virtualenv inside the project
            continue
        try:
            source = str(entry.statement).strip()
        except Exception:
            source = ""
        frames.append(f"  {path}:{entry.lineno + 1}: in {entry.name}")
        if source:
            frames.append(f"    {source}")
    error = excinfo.value
    rendered = error.render() if isinstance(error, EnvkitError) else str(error)
    where = ["raised in:", *frames] if frames else []
    tail = "(envkit's own traceback is left out: pytest --envkit-debug shows it)"
    return "\n".join([rendered, *where, tail])


def _int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


def failure_logs(env: Environment, lines: int = 20) -> str:
    """The logs worth reading when a test failed, secrets redacted. When a service is in
    trouble (exited, unhealthy), only the troubled ones' last ``lines`` lines, and a status
    line for the others: their startup output is noise next to the failure. When all are
    fine, the last ``lines`` lines of each."""
    from envkit.errors import redact

    out: list[str] = []
    try:
        containers = env.containers()
    except Exception as exc:
        return f"(could not list the containers of {env.project}: {exc})"
    if not containers:
        return f"(no containers of {env.project} are left)"
    troubled = {
        c.id for c in containers if c.state != "running" or c.health not in (None, "healthy")
    }
    for c in containers:
        state = ", ".join(
            filter(
                None,
                [
                    c.state,
                    c.health,
                    f"exit code {c.exit_code}" if c.exit_code is not None else None,
                ],
            )
        )
        if troubled and c.id not in troubled:
            out.append(f"--- {c.name} ({state}) - logs left out: 'envkit logs' has them ---\n")
            continue
        try:
            text = env.engine.logs(c.id, tail=lines)
        except Exception as exc:
            text = f"(could not read the logs: {exc})\n"
        out.append(f"--- {c.name} ({state}) - last {lines} lines ---\n{text.rstrip()}\n")
    return redact("".join(out), env.desired.sensitive_values)

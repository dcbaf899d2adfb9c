"""The Python API: the same core as the CLI (``stack.read``/``resolve`` + ``reconcile.up``/
``down``), as objects::

    stack = envkit.load("envkit.yaml")
    with stack.ephemeral("ci", ttl="1h") as env:      # a unique instance, always torn down
        host, port = env.port("db", 3306)              # ("127.0.0.1", 49153)
        print(env.logs("db", tail=20))

    env = stack.up("ci", instance="pr-42", ttl="2h")  # stays until env.down() or gc
    env.status()                                       # the document of `envkit ps --json`
    env.down(volumes=True)

Errors are the CLI's (:mod:`envkit.errors`). Nothing here prints: progress goes to an
optional :class:`~envkit.progress.Reporter`. The engine is ``engine_from_env()``
(:mod:`envkit.engine.factory`) unless one is given (``load(path, engine=FakeEngine())`` runs without Docker); the docker
SDK is imported on the first engine call, not by this module.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from envkit.errors import EnvkitError, UsageError
from envkit.model import LABEL, DesiredState, EngineSetting, is_oneoff
from envkit.reconcile.status import find_binding, parse_port, status_json
from envkit.stackfile.instances import check_instance_id
from envkit.stackfile.pipeline import DEFAULT_FILE, environments, read, resolve

if TYPE_CHECKING:
    from envkit.connection import ConnectionUrl
    from envkit.engine.base import Engine, ObservedContainer
    from envkit.progress import Reporter
    from envkit.reconcile.gc import GcResult
    from envkit.reconcile.teardown import DownResult
    from envkit.reconcile.verbs import UpResult
    from envkit.stackfile.document import Document
    from envkit.watchdog import Watchdog

__all__ = ["DEFAULT_TTL", "Environment", "Stack", "from_dict", "gc", "load", "loads"]

DEFAULT_TTL = "1h"  # of an ephemeral instance: gc reaps it after that if nothing else did


def load(
    path: str | os.PathLike[str] = DEFAULT_FILE,
    *,
    engine: Engine | None = None,
    environ: Mapping[str, str] | None = None,
) -> Stack:
    """Read and validate a stack file (raises :class:`~envkit.errors.StackError` with every
    located problem). ``engine``: the engine every instance of this stack uses (default:
    ``envkit.engine.factory.engine_from_env()``, connected on first use). ``environ``: the process
    environment templates see as ``env`` (default: ``os.environ``)."""
    return Stack(read(path, environ=environ), engine=engine, environ=environ)


def loads(
    text: str,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    engine: Engine | None = None,
    environ: Mapping[str, str] | None = None,
) -> Stack:
    """A stack given inline as YAML text, for a test that needs one service and no extra
    file: ``envkit.loads(STACK).ephemeral("test")``. Validated like a file (errors point
    at lines of ``text``); relative paths in it are from ``base_dir`` (default: the
    current directory)."""
    from envkit.stackfile.pipeline import read_text

    doc = read_text(text, base_dir=base_dir if base_dir is not None else os.getcwd())
    return Stack(doc, engine=engine, environ=environ)


def from_dict(
    data: Mapping[str, Any],
    *,
    base_dir: str | os.PathLike[str] | None = None,
    engine: Engine | None = None,
    environ: Mapping[str, str] | None = None,
) -> Stack:
    """A stack given as a dict (the stack file's structure), like :func:`loads`."""
    import json

    # JSON is YAML: the document keeps a source map, and a non-string key or a value
    # YAML cannot hold fails here, not later.
    try:
        text = json.dumps(data, indent=1, sort_keys=False)
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"the stack dict cannot be written as YAML: {exc}",
            hint="use strings, numbers, booleans, lists and dicts with string keys",
        ) from exc
    return loads(text, base_dir=base_dir, engine=engine, environ=environ)


def gc(
    *,
    older_than: str | float | None = None,
    include_unexpiring: bool = False,
    dry_run: bool = False,
    lock_timeout: float = 10.0,
    engine: Engine | None = None,
    environ: Mapping[str, str] | None = None,
    reporter: Reporter | None = None,
) -> GcResult:
    """Remove expired envkit instances, across every stack on the engine, like ``envkit
    gc`` (``older_than``: also those created longer ago, e.g. ``"1d"``; with
    ``include_unexpiring``, those without an expiry too). Returns what was removed,
    skipped and failed (:class:`envkit.reconcile.gc.GcResult`); raises nothing for an
    instance that could not be removed: it is in ``result.failed``."""
    from envkit.reconcile.expiry import parse_ttl
    from envkit.reconcile.gc import collect_garbage

    older_than_s = parse_ttl(older_than, what="older_than") if older_than is not None else None
    if include_unexpiring and older_than_s is None:
        raise UsageError(
            "include_unexpiring needs older_than",
            hint="instances without an expiry are only reaped by age: e.g. "
            "envkit.gc(older_than='1d', include_unexpiring=True)",
        )
    if engine is None:
        from envkit.engine.factory import engine_from_env

        engine = engine_from_env(environ)
    return collect_garbage(
        engine,
        older_than_s=older_than_s,
        include_unexpiring=include_unexpiring,
        dry_run=dry_run,
        lock_timeout_s=lock_timeout,
        reporter=reporter,
    )


def _expires(ttl: str | float | None) -> str | None:
    if ttl is None:
        return None
    from envkit.reconcile.expiry import expires_at, parse_ttl

    parse_ttl(ttl, what="ttl")  # the message names the argument, not the CLI's --ttl
    return expires_at(ttl)


class Stack:
    """A validated stack file. Cheap to keep; every method re-reads the engine."""

    def __init__(
        self,
        document: Document,
        *,
        engine: Engine | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.document = document
        self._engine = engine
        self._own_engine = engine is None  # made from the process environment
        self._environ = dict(environ) if environ is not None else None
        self._engines: dict[EngineSetting, Engine] = {}  # environments' engine: settings

    def __repr__(self) -> str:
        return f"<envkit.Stack {self.name!r} from {self.document.display}>"

    @property
    def name(self) -> str:
        return self.document.stack_name

    @property
    def path(self) -> str:
        return str(self.document.path)

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(environments(self.document))

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            from envkit.engine.factory import engine_from_env

            self._engine = engine_from_env(self._environ)
        return self._engine

    def render(
        self,
        environment: str,
        *,
        vars: Mapping[str, Any] | None = None,
        instance: str | None = None,
    ) -> DesiredState:
        """The desired state of ``environment`` (optionally one instance of it), without
        touching the engine. ``vars`` override the stack's like ``--var k=v``."""
        if instance is not None:
            check_instance_id(instance)
        cli_vars = {str(k): str(v) for k, v in (vars or {}).items()}
        return resolve(
            self.document, environment, cli_vars=cli_vars, environ=self._environ, instance=instance
        ).desired

    def attach(
        self,
        environment: str,
        *,
        instance: str | None = None,
        vars: Mapping[str, Any] | None = None,
        engine: Engine | None = None,
    ) -> Environment:
        """A handle on an instance that is (or may be) up already, without changing it."""
        desired = self.render(environment, vars=vars, instance=instance)
        return Environment(desired, engine or self.engine_of(desired))

    def up(
        self,
        environment: str,
        *,
        instance: str | None = None,
        wait: bool = True,
        ttl: str | float | None = None,
        vars: Mapping[str, Any] | None = None,
        timeout: float = 300.0,
        engine: Engine | None = None,
        reporter: Reporter | None = None,
        watchdog: bool = False,
    ) -> Environment:
        """Make the engine match ``environment`` (instance ``instance``, or the environment
        itself) like ``envkit up``; with ``wait`` until every service is healthy (or
        started), within ``timeout`` seconds. ``ttl``: stamp an expiry ``envkit gc`` honours.
        ``watchdog``: remove the instance when this process exits without having called
        :meth:`Environment.down`, however it exits, SIGKILL included (see
        :mod:`envkit.watchdog`). Use the handle as a context manager to ``down`` on exit."""
        desired = self.render(environment, vars=vars, instance=instance)
        expires = _expires(ttl)
        eng = self._engine_for(engine, watchdog, desired)
        # A watchdog outlives a failed up on purpose: the half-made instance still goes
        # when this process exits.
        env = Environment(desired, eng, watchdog=self._watch(desired, watchdog))
        env._up(wait=wait, expires=expires, timeout=timeout, reporter=reporter)
        return env

    @contextlib.contextmanager
    def ephemeral(
        self,
        environment: str,
        *,
        ttl: str | float | None = DEFAULT_TTL,
        wait: bool = True,
        vars: Mapping[str, Any] | None = None,
        timeout: float = 300.0,
        engine: Engine | None = None,
        reporter: Reporter | None = None,
        watchdog: bool | None = None,
    ) -> Iterator[Environment]:
        """A new, uniquely named instance of ``environment`` for the ``with`` block, torn
        down with its volumes on exit however the block ends (an exception, Ctrl-C, or an
        ``up`` that failed half-way). ``watchdog`` (default: on with the Docker engine from
        the environment) also tears it down when this process is killed; ``ttl`` is the
        last resort, for ``envkit gc``."""
        from envkit.stackfile.instances import new_instance_id

        desired = self.render(environment, vars=vars, instance=new_instance_id())
        expires = _expires(ttl)
        use_watchdog = (self._own_engine and engine is None) if watchdog is None else watchdog
        eng = self._engine_for(engine, use_watchdog, desired)
        env = Environment(desired, eng, watchdog=self._watch(desired, use_watchdog))
        try:
            env._up(wait=wait, expires=expires, timeout=timeout, reporter=reporter)
            yield env
        except BaseException as exc:
            try:
                env.down(volumes=True, reporter=reporter)
            except Exception as teardown:  # never hide why the block failed
                exc.add_note(f"envkit: tearing down {env.project} also failed: {teardown}")
            raise
        env.down(volumes=True, reporter=reporter)

    # -- internals ------------------------------------------------------------------------

    def engine_of(self, desired: DesiredState) -> Engine:
        """The engine ``desired``'s environment lives on: the one given to :func:`load`,
        else its ``engine:`` setting, else the process environment's (DOCKER_HOST)."""
        if desired.engine is None or not self._own_engine:
            return self.engine
        found = self._engines.get(desired.engine)
        if found is None:
            from envkit.engine.factory import engine_from_env

            found = engine_from_env(self._environ, endpoint=desired.engine)
            self._engines[desired.engine] = found
        return found

    def _engine_for(self, engine: Engine | None, watchdog: bool, desired: DesiredState) -> Engine:
        if watchdog and (engine is not None or not self._own_engine):
            raise UsageError(
                "the watchdog needs the Docker engine of the process environment",
                hint="a watchdog reconnects from DOCKER_HOST in its own process, so it cannot "
                "reach an engine passed in; pass watchdog=False",
                code="watchdog-engine",
            )
        return engine or self.engine_of(desired)

    def _watch(self, desired: DesiredState, watchdog: bool) -> Watchdog | None:
        if not watchdog:
            return None
        from envkit.watchdog import Watchdog

        return Watchdog.spawn(desired.project, environ=self._environ, engine=desired.engine)


class Environment:
    """A handle on one instance (project ``{stack}-{env}[-{instance}]``). Reads re-query
    the engine each time; :meth:`down` removes the instance. As a context manager it
    removes the instance and its volumes on exit."""

    def __init__(
        self, desired: DesiredState, engine: Engine, *, watchdog: Watchdog | None = None
    ) -> None:
        self.desired = desired
        self.engine = engine
        self.expires: str | None = None  # RFC 3339 UTC, when up was given a ttl
        self.up_result: UpResult | None = None
        self._watchdog = watchdog

    def __repr__(self) -> str:
        return f"<envkit.Environment {self.project}>"

    @property
    def project(self) -> str:
        return self.desired.project

    @property
    def stack(self) -> str:
        return self.desired.stack

    @property
    def environment(self) -> str:
        return self.desired.environment

    @property
    def instance(self) -> str | None:
        return self.desired.instance

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.desired.services)

    @property
    def watchdog(self) -> Watchdog | None:
        return self._watchdog

    def _up(
        self, *, wait: bool, expires: str | None, timeout: float, reporter: Reporter | None
    ) -> None:
        from envkit.reconcile.verbs import up

        self.expires = expires
        self.up_result = up(
            self.desired,
            self.engine,
            reporter=reporter,
            wait=wait,
            timeout_s=timeout,
            expires=self.expires,
        )

    # -- reading ----------------------------------------------------------------------------

    def containers(self, service: str | None = None) -> list[ObservedContainer]:
        """The instance's containers (of one service), sorted by service and replica."""
        labels: dict[str, str | None] = {LABEL.PROJECT: self.project}
        if service is not None:
            labels[LABEL.SERVICE] = self._check_service(service)
        found = [c for c in self.engine.list_containers(labels) if not is_oneoff(c.labels)]
        return sorted(found, key=lambda c: (c.service, c.replica))

    def status(self) -> dict[str, Any]:
        """The instance's entry of ``envkit ps --json``: ``{format_version, project,
        instance, services: {name: {containers, state, health, ports}}}``."""
        return status_json(self.project, self.instance, self.containers())

    def port(self, service: str, port: int | str, *, replica: int = 1) -> tuple[str, int]:
        """Where ``port`` (``3306``, ``"3306"``, ``"53/udp"``) of ``service`` is published:
        ``(host, host_port)``, with a wildcard host address given as one to connect to
        (``0.0.0.0`` -> ``127.0.0.1``, or the engine's host when it is remote)."""
        target, proto = parse_port(port)
        containers = [c for c in self.containers(service) if c.replica == replica]
        if not containers:
            raise EnvkitError(
                f"no container for replica {replica} of service {service!r} of {self.project}",
                code="not-running",
                hint="bring the instance up first (stack.up(...))",
            )
        binding = find_binding(containers[0], target, proto)
        if binding is None:
            raise EnvkitError(
                f"{containers[0].name} does not publish {target}/{proto}",
                code="no-such-port",
                hint="publish it under the service's ports:, and check env.status()",
            )
        return self.engine.connect_host(binding.host_ip), binding.host_port

    def url(
        self,
        service: str,
        port: int | str,
        *,
        scheme: str = "http",
        path: str = "",
        user: str | None = None,
        password: str | None = None,
        replica: int = 1,
    ) -> ConnectionUrl:
        """``http://127.0.0.1:49153/path`` for ``port`` of ``service``; with credentials
        a database URL, ``env.url("db", 3306, scheme="mysql", user="root",
        password=pw, path="shop")`` -> ``mysql://root:...@127.0.0.1:49153/shop``. The
        result is a ``str`` whose ``repr`` masks the password (see
        :mod:`envkit.connection`)."""
        from envkit.connection import connection_url

        host, host_port = self.port(service, port, replica=replica)
        return connection_url(scheme, host, host_port, user=user, password=password, path=path)

    def exec(
        self,
        service: str,
        command: list[str] | str,
        *,
        replica: int = 1,
        environment: Mapping[str, str] | None = None,
        user: str | None = None,
        workdir: str | None = None,
    ) -> tuple[int, str]:
        """Run ``command`` (a list, or a string run by ``sh -c``) in the running container
        of ``service``: ``(exit_code, output)``, stdout and stderr interleaved, like
        testcontainers' ``exec``. A non-zero exit is returned, not raised."""
        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        found = [c for c in self.containers(service) if c.replica == replica]
        if not found or found[0].state != "running":
            raise EnvkitError(
                f"{service} replica {replica} of {self.project} is not running",
                code="not-running",
                hint="check env.status(); bring it up with up(wait=True)",
            )
        done = self.engine.exec_in(
            found[0].id, argv, environment=environment, user=user, workdir=workdir
        )
        return done.exit_code, done.output.decode("utf-8", "replace")

    def logs(self, service: str | None = None, *, tail: int | None = None) -> str:
        """The logs of ``service`` (or every service), stdout and stderr interleaved. With
        several containers each line is prefixed ``name | ``, like ``envkit logs``."""
        containers = self.containers(service)
        prefix = len(containers) > 1
        out: list[str] = []
        for c in containers:
            text = self.engine.logs(c.id, tail=tail)
            if not prefix:
                out.append(text)
                continue
            out.extend(f"{c.name} | {line}\n" for line in text.splitlines())
        return "".join(out)

    # -- tearing down -----------------------------------------------------------------------

    def down(self, *, volumes: bool = True, reporter: Reporter | None = None) -> DownResult:
        """Remove the instance (with its named volumes unless ``volumes=False``), like
        ``envkit down``; a second call finds nothing left and succeeds."""
        from envkit.reconcile.verbs import down

        result = down(self.desired, self.engine, volumes=volumes, reporter=reporter)
        if self._watchdog is not None:  # only once down succeeded: else it still guards
            self._watchdog.stand_down()
            self._watchdog = None
        return result

    def __enter__(self) -> Environment:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.down(volumes=True)
            return
        try:
            self.down(volumes=True)
        except Exception as teardown:
            exc.add_note(f"envkit: tearing down {self.project} also failed: {teardown}")

    # -- internals --------------------------------------------------------------------------

    def _check_service(self, service: str) -> str:
        if service not in self.services:
            raise UsageError(
                f"{self.project} has no service {service!r}",
                hint=f"the services are: {', '.join(self.services)}",
                code="no-such-service",
            )
        return service

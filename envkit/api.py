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
from typing import TYPE_CHECKING, Any

from envkit.environment import Environment
from envkit.errors import UsageError
from envkit.model import DesiredState, EngineSetting
from envkit.stackfile.instances import check_instance_id
from envkit.stackfile.pipeline import DEFAULT_FILE, environments, read, resolve

if TYPE_CHECKING:
    from envkit.engine.base import Engine
    from envkit.progress import Reporter
    from envkit.reconcile.gc import GcResult
    from envkit.stackfile.document import Document
    from envkit.swarm_env import SwarmEnvironment
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
    swarm: str | None = None,
) -> GcResult:
    """Remove expired envkit instances, across every stack on the engine, like ``envkit
    gc`` (``older_than``: also those created longer ago, e.g. ``"1d"``; with
    ``include_unexpiring``, those without an expiry too). Returns what was removed,
    skipped and failed (:class:`envkit.reconcile.gc.GcResult`); raises nothing for an
    instance that could not be removed: it is in ``result.failed``. ``swarm``: a Swarm
    manager's address instead; the stacks whose lease (``up(ttl=...)``) expired are taken
    down, like ``envkit gc --swarm MANAGER`` (``older_than``, ``include_unexpiring`` and
    ``engine`` do not go with it)."""
    from envkit.reconcile.expiry import parse_ttl
    from envkit.reconcile.gc import collect_garbage

    if swarm is not None:
        given = [name for name, value in (("older_than", older_than), ("engine", engine),
                                          ("include_unexpiring", include_unexpiring)) if value]  # fmt: skip
        if given:
            raise UsageError(
                f"{', '.join(given)} does not go with swarm",
                hint="a Swarm stack goes when its lease (up(ttl=...)) expires; collect one "
                "engine's instances with a separate envkit.gc(engine=...)",
            )
        from envkit.reconcile.swarm_gc import collect_on_manager

        return collect_on_manager(swarm, dry_run=dry_run, lock_timeout_s=lock_timeout)

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
        swarm = self._swarm(environment, vars=vars, instance=instance, engine=engine)
        if swarm is not None:
            return swarm
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
        :mod:`envkit.watchdog`). Use the handle as a context manager to ``down`` on exit.

        An environment on a Swarm (``engine: {swarm: MANAGER}``) is deployed as Swarm
        services and waited for, like ``envkit up``: the handle is a
        :class:`envkit.swarm_env.SwarmEnvironment`; ``ttl`` leaves a lease ``envkit gc
        --swarm MANAGER`` honours; ``watchdog``, ``engine`` and ``wait=False`` do not apply
        there and are refused."""
        swarm = self._swarm(environment, vars=vars, instance=instance, engine=engine,
                            watchdog=watchdog, wait=wait)  # fmt: skip
        if swarm is not None:
            swarm._up(wait=True, expires=_expires(ttl), timeout=timeout, reporter=reporter)
            return swarm
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
        last resort, for ``envkit gc`` (``envkit gc --swarm MANAGER`` on a Swarm, where
        there is no watchdog)."""
        from envkit.stackfile.instances import new_instance_id

        instance = new_instance_id()
        env: Environment | None = self._swarm(
            environment, vars=vars, instance=instance, engine=engine,
            watchdog=bool(watchdog), wait=wait,
        )  # fmt: skip
        expires = _expires(ttl)
        if env is None:
            desired = self.render(environment, vars=vars, instance=instance)
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

    def _swarm(
        self,
        environment: str,
        *,
        vars: Mapping[str, Any] | None,
        instance: str | None,
        engine: Engine | None,
        watchdog: bool = False,
        wait: bool = True,
    ) -> SwarmEnvironment | None:
        """The handle of ``environment`` when it lives on a Swarm, else None; what does not
        apply there is refused, never ignored."""
        from envkit.stackfile.enginesetting import swarm_manager

        endpoint = swarm_manager(self.document, environment)
        if endpoint is None:
            return None
        where = f"environment {environment} is on a Swarm"
        refused = [
            (watchdog, "watchdog", "a watchdog watches one engine; use the with block"),
            (engine is not None or not self._own_engine, "an engine given to load() or up()",
             "a Swarm environment connects to its manager (engine: {swarm: ...}); leave "
             "engine out"),
            (not wait, "wait=False", "a Swarm deploy is always waited for: leave wait=True"),
        ]  # fmt: skip
        for bad, what, hint in refused:
            if bad:
                raise UsageError(f"{what} does not apply: {where}", hint=hint,
                                 code="swarm-environment")  # fmt: skip
        from envkit.stackfile.swarmkeys import to_swarm
        from envkit.swarm_env import SwarmEnvironment

        if instance is not None:
            check_instance_id(instance)
        cli_vars = {str(k): str(v) for k, v in (vars or {}).items()}
        r = resolve(
            self.document, environment, cli_vars=cli_vars, environ=self._environ, instance=instance
        )
        return SwarmEnvironment(r.desired, endpoint, to_swarm(r.rendered, r.desired))

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

"""The Python API's handle on one instance: :class:`Environment` (re-exported by
:mod:`envkit.api`, where ``Stack.up``/``attach``/``ephemeral`` make it). A Swarm
environment's handle, :class:`envkit.swarm_env.SwarmEnvironment`, is one too."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from envkit.errors import EnvkitError, UsageError
from envkit.model import LABEL, DesiredState, is_oneoff
from envkit.reconcile.status import find_binding, parse_port, status_json

if TYPE_CHECKING:
    from envkit.connection import ConnectionUrl
    from envkit.engine.base import Engine, ObservedContainer
    from envkit.progress import Reporter
    from envkit.reconcile.teardown import DownResult
    from envkit.reconcile.verbs import UpResult
    from envkit.watchdog import Watchdog

__all__ = ["Environment"]


class Environment:
    """A handle on one instance (project ``{stack}-{env}[-{instance}]``). Reads re-query
    the engine each time; :meth:`down` removes the instance. As a context manager it
    removes the instance and its volumes on exit."""

    def __init__(
        self, desired: DesiredState, engine: Engine, *, watchdog: Watchdog | None = None
    ) -> None:
        self.desired = desired
        self._engine = engine
        self.expires: str | None = None  # RFC 3339 UTC, when up was given a ttl
        self.up_result: UpResult | None = None
        self._watchdog = watchdog

    def __repr__(self) -> str:
        return f"<envkit.Environment {self.project}>"

    @property
    def engine(self) -> Engine:
        """The engine the instance lives on."""
        return self._engine

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

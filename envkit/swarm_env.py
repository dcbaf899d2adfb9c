"""The Python API's handle on an environment whose engine is a Swarm
(``environments.E.engine: {swarm: MANAGER}``): ``stack.up("cluster")`` deploys it as Swarm
services and waits until they converged, as ``envkit up`` does, and returns a
:class:`SwarmEnvironment`.

It is an :class:`envkit.api.Environment` (:mod:`envkit.environment`), so code written for one engine keeps its types;
what has a meaning on a Swarm works (``status``, ``logs``, ``down``, the context manager),
and what names one container (``containers``, ``port``, ``url``, ``exec``, ``engine``)
raises a :class:`~envkit.errors.UsageError` saying what to use instead: a Swarm runs tasks on
its nodes, and publishes ports there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from envkit.environment import Environment
from envkit.errors import EnvkitError, UsageError
from envkit.reconcile.swarm_gc import SwarmDownResult, down_result, lease_expiry

if TYPE_CHECKING:
    from collections.abc import Mapping

    from envkit.connection import ConnectionUrl
    from envkit.engine.base import Engine, ObservedContainer
    from envkit.engine.swarm import SwarmEngine
    from envkit.model import DesiredState
    from envkit.progress import Reporter
    from envkit.reconcile.swarm_plan import SwarmPlan
    from envkit.swarm_model import SwarmStack

__all__ = ["SwarmDownResult", "SwarmEnvironment"]  # SwarmDownResult: envkit.reconcile.swarm_gc


class SwarmEnvironment(Environment):
    """A stack on a Swarm (project ``{stack}-{env}[-{instance}]``), reached through its
    manager at ``endpoint``. Reads re-query the manager each time."""

    def __init__(self, desired: DesiredState, endpoint: str, swarm_stack: SwarmStack) -> None:
        # Not Environment.__init__: there is no container engine to hold.
        self.desired = desired
        self.endpoint = endpoint
        self.swarm_stack = swarm_stack
        self.expires = None
        self.up_result = None
        self.plan: SwarmPlan | None = None  # what the last up did
        self._watchdog = None

    def __repr__(self) -> str:
        return f"<envkit.SwarmEnvironment {self.project} on {self.endpoint}>"

    def _manager(self) -> SwarmEngine:
        from envkit.engine.swarm import SwarmEngine

        return SwarmEngine(self.endpoint)

    def _up(
        self, *, wait: bool, expires: str | None, timeout: float, reporter: Reporter | None
    ) -> None:
        from envkit.reconcile import swarm_verbs

        if not wait:  # the Stack checks it first; never ignored
            raise UsageError("a Swarm environment is always waited for")
        self.expires = expires
        manager = self._manager()
        try:
            self.plan = swarm_verbs.up(
                manager,
                self.swarm_stack,
                engine_id=manager.identity,
                timeout_s=timeout,
                report=self._report(reporter),
                object_ids=manager.object_ids,
                expires=expires,
            )
        finally:
            manager.close()

    def _report(self, reporter: Reporter | None) -> Any:
        if reporter is None:
            return lambda _line: None
        from envkit.progress import Kind, Subject

        subject = Subject(Kind.PROJECT, self.project)
        return lambda line: reporter.output(subject, line)

    # -- reading ----------------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        self._refuse("engine", "env.endpoint is the Swarm manager's address")

    def status(self) -> dict[str, Any]:
        """The document of ``envkit ps ENV --json`` on a Swarm
        (:mod:`envkit.reconcile.swarm_status`): services with their desired and running
        replicas, tasks (node, state, error) and published ports."""
        from envkit.reconcile.expiry import format_time
        from envkit.reconcile.swarm_status import swarm_status_json

        manager = self._manager()
        try:
            observed = manager.observe_swarm(self.project)
        finally:
            manager.close()
        expiry = lease_expiry(observed)
        return swarm_status_json(
            observed, self.instance, format_time(expiry) if expiry is not None else None
        )

    def logs(self, service: str | None = None, *, tail: int | None = None) -> str:
        """The service logs of ``service`` (or every service) through the manager, each line
        prefixed ``service.replica@node | `` when there are several tasks. When the manager
        cannot read them all (a node down), ``EngineError`` (``logs-incomplete``) says which,
        with the lines it could read as its ``detail``."""
        from envkit.engine.base import LogOptions
        from envkit.reconcile.swarm_status import incomplete_logs, log_sources, split_details

        wanted = self._check_service(service) if service is not None else None
        manager = self._manager()
        try:
            services = [
                s
                for s in manager.observe_swarm(self.project).services
                if wanted is None or s.service == wanted
            ]
            if not services:
                raise EnvkitError(
                    f"nothing of {self.project} runs on the Swarm",
                    code="not-running",
                    hint="bring it up first (stack.up(...))",
                )
            names = {
                t.id: f"{s.service}.{t.slot if t.slot is not None else t.id[:12]}@{t.node or '?'}"
                for s in services
                for t in s.tasks
            }
            prefix = len(set(names.values())) > 1
            out: list[str] = []
            said: list[str] = []
            sources, unread = log_sources(services)
            for source in sources:
                chunks = manager.read_logs(
                    source.kind, source.id, LogOptions(tail=tail), engine_said=said.append
                )
                for line in b"".join(chunks).decode("utf-8", "replace").splitlines():
                    task, text = split_details(line, timestamps=False)
                    name = names.get(task, f"{source.service.service}.{task[:12]}")
                    out.append(f"{name} | {text}\n" if prefix else f"{text}\n")
            if said or unread:
                raise incomplete_logs(
                    list(dict.fromkeys(said)),
                    [names.get(t.id, t.id[:12]) for t in unread],
                    read="".join(out),
                )
            return "".join(out)
        finally:
            manager.close()

    def containers(self, service: str | None = None) -> list[ObservedContainer]:
        self._refuse("containers()", "env.status() lists each service's tasks and their nodes")

    def port(self, service: str, port: int | str, *, replica: int = 1) -> tuple[str, int]:
        self._refuse(
            "port()",
            "a Swarm publishes ports on its nodes: env.status()['services'][SERVICE]['ports'] "
            "has the published port; connect to a node's address",
        )

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
        self._refuse("url()", "build it from a node's address and the published port in "
                     "env.status()")  # fmt: skip

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
        self._refuse("exec()", "run it on the task's node: env.status() names the node of "
                     "each task; `docker -H NODE exec` there")  # fmt: skip

    # -- tearing down -----------------------------------------------------------------------

    def down(self, *, volumes: bool = True, reporter: Reporter | None = None) -> SwarmDownResult:
        """Remove the stack's services, wait until their tasks are gone, then its networks,
        secrets and configs (``envkit down``). Named volumes live on the nodes and stay
        (``volumes`` has no effect here), and so does its lease. A second call finds nothing
        and succeeds."""
        from envkit.reconcile import swarm_verbs

        manager = self._manager()
        try:
            observed = manager.observe_swarm(self.project)
            swarm_verbs.down(
                manager, self.project, engine_id=manager.identity, report=self._report(reporter)
            )
        finally:
            manager.close()
        return down_result(observed)

    def _refuse(self, what: str, hint: str) -> NoReturn:
        raise UsageError(
            f"{what} names one container, and {self.project} runs on a Swarm, as tasks on its "
            "nodes",
            hint=hint,
            code="swarm-environment",
        )

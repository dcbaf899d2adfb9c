"""The Swarm adapter: the docker SDK's low-level APIClient, for services, tasks, networks,
secrets and configs of one stack on a Swarm manager.

Updates go through ``APIClient.update_service`` with every part of the spec and the version
read last (never ``Service.update``, which resets what it is not given); a stale version
("update out of sequence") is retried once after re-reading. SDK errors are translated here
into :class:`~envkit.errors.EngineError`, naming the object and the operation.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import docker
import docker.errors

from envkit.engine.base import LogOptions
from envkit.engine.swarm_base import (
    ObservedService,
    ObservedSwarm,
    ObservedSwarmObject,
    ObservedTask,
    PublishedPort,
)
from envkit.errors import EngineError, EngineUnavailable
from envkit.model import LABEL

__all__ = ["SwarmEngine"]


def _parse_label_json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class SwarmEngine:
    """A Swarm manager at ``base_url`` (``unix:///…``, ``tcp://…``)."""

    def __init__(self, base_url: str, *, timeout: int = 60) -> None:
        self.base_url = base_url
        try:
            self.api: Any = docker.APIClient(base_url=base_url, timeout=timeout, version="auto")
            info = self.api.info()
        except docker.errors.DockerException as exc:
            raise EngineUnavailable(
                f"cannot reach the Swarm manager at {base_url}",
                hint="check that the engine runs and that this user may use its socket",
            ) from exc
        if info.get("Swarm", {}).get("ControlAvailable") is not True:
            raise EngineError(
                f"{base_url} is not a Swarm manager",
                code="not-a-swarm-manager",
                hint="point `engine: {swarm: ...}` at a manager node (`docker node ls` there)",
            )
        # The lock key: the cluster, whichever manager or address reaches it.
        self.identity = "swarm:" + str(info["Swarm"].get("Cluster", {}).get("ID", base_url))

    def close(self) -> None:
        self.api.close()

    def _fail(self, exc: Exception, operation: str, subject: str) -> EngineError:
        explanation = getattr(exc, "explanation", None) or str(exc)
        return EngineError(f"cannot {operation} {subject}: {explanation}")

    # --- observe -------------------------------------------------------------------------

    def _nodes(self) -> tuple[dict[str, str], list[str]]:
        names, down = {}, []
        for n in self.api.nodes():
            host = n.get("Description", {}).get("Hostname", n["ID"][:12])
            names[n["ID"]] = host
            if n.get("Status", {}).get("State") != "ready":
                down.append(host)
        return names, down

    def observe_swarm(self, project: str) -> ObservedSwarm:
        selector = {"label": f"{LABEL.PROJECT}={project}"}
        try:
            nodes, down = self._nodes()
            raw_services = self.api.services(filters=selector)
            services = tuple(self._service(s, nodes, down) for s in raw_services)
            objects: list[ObservedSwarmObject] = []
            for n in self.api.networks(filters=selector):
                objects.append(
                    ObservedSwarmObject(n["Id"], n["Name"], "network", n.get("Labels") or {})
                )
            for kind, items in (
                ("secret", self.api.secrets(filters=selector)),
                ("config", self.api.configs(filters=selector)),
            ):
                for o in items:
                    spec = o.get("Spec", {})
                    labels = spec.get("Labels") or {}
                    state = labels.get("io.envkit.state")
                    k = "lease" if state == "lease" else "state" if state else kind
                    objects.append(ObservedSwarmObject(o["ID"], spec.get("Name", ""), k, labels))
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "observe", f"the Swarm stack {project}") from exc
        return ObservedSwarm(project, services, tuple(objects), tuple(down))

    def _service(
        self, s: Mapping[str, Any], nodes: dict[str, str], down: list[str]
    ) -> ObservedService:
        spec = s.get("Spec", {})
        labels = spec.get("Labels") or {}
        tasks = []
        for t in self.api.tasks(filters={"service": s["ID"]}):
            status = t.get("Status", {})
            node = nodes.get(t.get("NodeID", ""), "")
            cstatus = status.get("ContainerStatus") or {}
            tasks.append(
                ObservedTask(
                    id=t["ID"],
                    service_id=s["ID"],
                    node=node,
                    state=status.get("State", ""),
                    desired_state=t.get("DesiredState", ""),
                    spec_version=_task_version(t),
                    error=status.get("Err", ""),
                    message=status.get("Message", ""),
                    container_id=cstatus.get("ContainerID", ""),
                    exit_code=cstatus.get("ExitCode"),
                    node_ready=node not in down,
                    slot=t.get("Slot") if isinstance(t.get("Slot"), int) else None,
                    ports=_ports((status.get("PortStatus") or {}).get("Ports")),
                    created=str(t.get("CreatedAt", "")),
                )
            )
        upd = s.get("UpdateStatus") or {}
        return ObservedService(
            id=s["ID"],
            name=spec.get("Name", ""),
            service=labels.get(LABEL.SERVICE, ""),
            version=int((s.get("Version") or {}).get("Index", 0)),
            labels=labels,
            spec=_parse_label_json(labels.get(LABEL.SPEC)),
            update_state=upd.get("State", ""),
            update_message=upd.get("Message", ""),
            tasks=tuple(tasks),
            engine_spec=spec,
            previous_spec=s.get("PreviousSpec"),
            ports=_ports((s.get("Endpoint") or {}).get("Ports")),
        )

    def service(self, name: str) -> ObservedService | None:
        try:
            found = self.api.services(filters={"name": name})
            nodes, down = self._nodes()
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "inspect", f"service {name}") from exc
        for s in found:
            if s["Spec"]["Name"] == name:
                return self._service(s, nodes, down)
        return None

    # --- objects -------------------------------------------------------------------------

    def create_network(self, name: str, spec: Mapping[str, Any]) -> str:
        try:
            out = self.api.create_network(
                name,
                driver=spec.get("driver", "overlay"),
                options=dict(spec.get("driver_opts") or {}) or None,
                labels=dict(spec.get("labels") or {}),
                attachable=bool(spec.get("attachable", True)),
                internal=bool(spec.get("internal", False)),
                scope="swarm",
                check_duplicate=True,
            )
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "create", f"network {name}") from exc
        return str(out["Id"])

    def create_object(self, kind: str, name: str, data: bytes, labels: Mapping[str, str]) -> str:
        try:
            if kind == "secret":
                out = self.api.create_secret(name, data, labels=dict(labels))
            else:
                out = self.api.create_config(name, data, labels=dict(labels))
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "create", f"{kind} {name}") from exc
        return str(out["ID"])

    def remove_object(self, kind: str, object_id: str) -> None:
        remove = {
            "network": self.api.remove_network,
            "secret": self.api.remove_secret,
            "config": self.api.remove_config,
            "state": self.api.remove_config,
            "lease": self.api.remove_config,
        }[kind]
        try:
            remove(object_id)
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "remove", f"{kind} {object_id}") from exc

    def list_leases(self) -> list[ObservedSwarmObject]:
        """Every stack's lease on the cluster (``envkit.reconcile.swarm_gc``)."""
        try:
            found = self.api.configs(filters={"label": "io.envkit.state=lease"})
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "list", "the leases of Swarm stacks") from exc
        return [
            ObservedSwarmObject(
                o["ID"], o["Spec"].get("Name", ""), "lease", o["Spec"].get("Labels") or {}
            )
            for o in found
        ]

    def config_data(self, config_id: str) -> bytes:
        import base64

        try:
            data = self.api.inspect_config(config_id)["Spec"].get("Data", "")
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "read", f"config {config_id}") from exc
        return base64.b64decode(data)

    def object_ids(self) -> dict[str, str]:
        """Engine name -> id of every network, secret and config (for specs that want ids)."""
        out: dict[str, str] = {}
        try:
            for n in self.api.networks():
                out[n["Name"]] = n["Id"]
            for o in self.api.secrets() + self.api.configs():
                out[o["Spec"]["Name"]] = o["ID"]
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "list", "networks, secrets and configs") from exc
        return out

    # --- services ------------------------------------------------------------------------

    def create_service(self, spec: Mapping[str, Any]) -> str:
        try:
            out = self.api._post_json(self.api._url("/services/create"), data=dict(spec))
            result = self.api._result(out, True)
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "create", f"service {spec.get('Name')}") from exc
        return str(result["ID"])

    def update_service(
        self, service_id: str, version: int, spec: Mapping[str, Any], *, rollback: bool = False
    ) -> None:
        """Send the whole ``spec`` at ``version``; on "update out of sequence" re-read the
        version and try once more."""
        for attempt in (1, 2):
            try:
                params: dict[str, Any] = {"version": version}
                if rollback:
                    params["rollback"] = "previous"
                url = self.api._url("/services/{0}/update", service_id)
                self.api._raise_for_status(self.api._post_json(url, data=dict(spec), params=params))
                return
            except docker.errors.APIError as exc:
                if attempt == 1 and "out of sequence" in str(exc):
                    version = int(self.api.inspect_service(service_id)["Version"]["Index"])
                    continue
                raise self._fail(exc, "update", f"service {spec.get('Name')}") from exc
            except docker.errors.DockerException as exc:
                raise self._fail(exc, "update", f"service {spec.get('Name')}") from exc

    def remove_service(self, service_id: str) -> None:
        try:
            self.api.remove_service(service_id)
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "remove", f"service {service_id}") from exc

    def task_logs(self, task_id: str, lines: int) -> list[str]:
        try:
            res = self.api._get(
                self.api._url("/tasks/{0}/logs", task_id),
                params={"stdout": 1, "stderr": 1, "tail": lines},
                stream=False,
            )
            self.api._raise_for_status(res)
            raw = res.content
        except docker.errors.DockerException:
            return []
        return _demux(raw)[-lines:]

    def service_logs(
        self, service_id: str, options: LogOptions, *, follow: bool = False
    ) -> Iterator[bytes]:
        """``/services/{id}/logs`` with details (which task wrote each line); the engine
        has no ``until`` there, so ``options.until`` is refused before this is called."""
        try:
            chunks = self.api.service_logs(
                service_id,
                details=True,
                follow=follow,
                stdout=True,
                stderr=True,
                since=options.since,
                timestamps=options.timestamps,
                tail="all" if options.tail is None else options.tail,
                is_tty=False,
            )
            yield from chunks
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "read the logs of", f"service {service_id}") from exc

    def containers_left(self, service_names: list[str]) -> int:
        """Tasks of these services that still hold a container (Swarm removes asynchronously)."""
        if not service_names:
            return 0
        try:
            left = 0
            for name in service_names:
                for t in self.api.tasks(filters={"service": name}):
                    if t.get("Status", {}).get("State") not in ("shutdown", "complete", "failed",
                                                                  "rejected", "orphaned", "remove"):  # fmt: skip
                        left += 1
            return left
        except docker.errors.NotFound:
            return 0
        except docker.errors.DockerException as exc:
            raise self._fail(exc, "list", "tasks") from exc


def _ports(raw: Any) -> tuple[PublishedPort, ...]:
    """Endpoint.Ports or a task's PortStatus.Ports, without repeats (the engine lists a
    host-mode port once per address family)."""
    out: dict[PublishedPort, None] = {}
    for p in raw if isinstance(raw, list) else ():
        if isinstance(p, dict) and p.get("TargetPort"):
            port = PublishedPort(
                int(p["TargetPort"]),
                int(p.get("PublishedPort") or 0),
                str(p.get("Protocol") or "tcp"),
                str(p.get("PublishMode") or "ingress"),
            )
            out[port] = None
    return tuple(out)


def _task_version(t: Mapping[str, Any]) -> int | None:
    """The service version a task was made for (``SpecVersion``, Engine 20.10+)."""
    v = t.get("SpecVersion") or {}
    index = v.get("Index")
    return int(index) if isinstance(index, int) else None


def _demux(raw: bytes) -> list[str]:
    """Docker's multiplexed log stream (8-byte frame headers) or plain text, as lines."""
    out: list[bytes] = []
    i = 0
    if raw[:1] in (b"\x00", b"\x01", b"\x02") and len(raw) >= 8:
        while i + 8 <= len(raw):
            size = int.from_bytes(raw[i + 4 : i + 8], "big")
            out.append(raw[i + 8 : i + 8 + size])
            i += 8 + size
        text = b"".join(out)
    else:
        text = raw
    return text.decode("utf-8", "replace").splitlines()

"""The Swarm adapter: services, tasks, networks, secrets and configs of one stack on a Swarm
manager.

On a unix socket every call is a raw JSON request (:mod:`envkit.engine.unix_http`) with the
SDK's own paths, parameters and bodies, so ``plan`` and ``up`` never import the docker SDK
(with requests, urllib3 and paramiko, that import costs more than the rest of a no-op ``up``,
and a second more than envkit's own work in a deploy on a loaded machine); a TCP/ssh
manager goes through the SDK's low-level ``APIClient``, loaded on first use (task logs too).
One observation is seven GETs whatever the number of services (the tasks of all services in
one list call).

Updates go through ``APIClient.update_service`` with every part of the spec and the version
read last (never ``Service.update``, which resets what it is not given); a stale version
("update out of sequence") is retried once after re-reading. SDK errors are translated here
into :class:`~envkit.errors.EngineError`, naming the object and the operation.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal
from urllib.parse import quote

from envkit.engine.base import LogOptions
from envkit.engine.endpoint import Scheme, parse_endpoint
from envkit.engine.swarm_base import (
    ObservedService,
    ObservedSwarm,
    ObservedSwarmObject,
    ObservedTask,
    PublishedPort,
)
from envkit.engine.unix_http import EngineHttpError, UnixHttpClient
from envkit.errors import EngineError, EngineUnavailable
from envkit.model import LABEL

__all__ = ["SwarmEngine"]

# What a read can fail with before the SDK is loaded (it adds DockerException).
_RAW_ERRORS: tuple[type[Exception], ...] = (EngineHttpError, OSError, http.client.HTTPException)


def _parse_label_json(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class SwarmEngine:
    """A Swarm manager at ``base_url`` (``unix:///…``, ``tcp://…``)."""

    def __init__(self, base_url: str, *, timeout: int = 60, raw: bool = True) -> None:
        """``raw=False``: every call through the SDK, even on a unix socket (the path a
        TCP or ssh manager takes; the cluster tests run it on the test cluster's socket)."""
        self.base_url = base_url
        self._timeout = timeout
        self._api: Any = None
        self._raw: UnixHttpClient | None = None
        self._errors: tuple[type[Exception], ...] = _RAW_ERRORS
        try:
            endpoint = parse_endpoint(base_url)
            if raw and endpoint.scheme is Scheme.UNIX:
                self._raw = UnixHttpClient(endpoint.path, timeout_s=float(timeout))
            info = self._get("/info")
        except Exception as exc:
            if isinstance(exc, EngineUnavailable) or not isinstance(exc, self._errors):
                raise
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

    @property
    def api(self) -> Any:
        """The SDK's low-level client, made (and the SDK imported) on first use."""
        if self._api is None:
            import docker
            import docker.errors

            try:
                self._api = docker.APIClient(
                    base_url=self.base_url, timeout=self._timeout, version="auto"
                )
            except docker.errors.DockerException as exc:
                raise EngineUnavailable(
                    f"cannot reach the Swarm manager at {self.base_url}",
                    hint="check that the engine runs and that this user may use its socket",
                ) from exc
            self._errors = (*_RAW_ERRORS, docker.errors.DockerException)
        return self._api

    def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """``method`` on ``path`` (the engine's API, unversioned: the SDK's ``version=auto``
        negotiates the same), filters as JSON, ``body`` as JSON without its top-level nulls
        (as the SDK's ``_post_json`` sends it); the answer's JSON (None when empty)."""
        query = {k: json.dumps(v) if isinstance(v, dict) else str(v)
                 for k, v in (params or {}).items()}  # fmt: skip
        data = None if body is None else {k: v for k, v in body.items() if v is not None}
        if self._raw is not None:
            return self._raw.request_json(method, path, query or None, data)
        api = self.api
        url = api._url(path)
        if method == "GET":
            return api._result(api._get(url, params=query or None), True)
        if method == "DELETE":
            api._raise_for_status(api._delete(url, params=query or None))
            return None
        response = api._post_json(url, data=data or {}, params=query or None)
        api._raise_for_status(response)
        return response.json() if response.content.strip() else None

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._call("GET", path, params)

    def _list(self, path: str, filters: Mapping[str, list[str]] | None = None) -> list[Any]:
        return list(self._get(path, {"filters": dict(filters)} if filters else None) or [])

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
        if self._api is not None:
            self._api.close()

    def _fail(self, exc: Exception, operation: str, subject: str) -> EngineError:
        explanation = getattr(exc, "explanation", None) or str(exc)
        return EngineError(f"cannot {operation} {subject}: {explanation}")

    # --- observe -------------------------------------------------------------------------

    def _nodes(self) -> tuple[dict[str, str], list[str]]:
        names, down = {}, []
        for n in self._list("/nodes"):
            host = n.get("Description", {}).get("Hostname", n["ID"][:12])
            names[n["ID"]] = host
            if n.get("Status", {}).get("State") != "ready":
                down.append(host)
        return names, down

    def _tasks(self, service_ids: list[str]) -> dict[str, list[Any]]:
        """The tasks of these services, by service id, in one list call."""
        out: dict[str, list[Any]] = {i: [] for i in service_ids}
        if service_ids:
            for t in self._list("/tasks", {"service": service_ids}):
                out.setdefault(t.get("ServiceID", ""), []).append(t)
        return out

    def observe_swarm(self, project: str) -> ObservedSwarm:
        selector = {"label": [f"{LABEL.PROJECT}={project}"]}
        try:
            nodes, down = self._nodes()
            raw_services = self._list("/services", selector)
            tasks = self._tasks([s["ID"] for s in raw_services])
            services = tuple(self._service(s, tasks[s["ID"]], nodes, down) for s in raw_services)
            objects: list[ObservedSwarmObject] = []
            for n in self._list("/networks", selector):
                objects.append(
                    ObservedSwarmObject(n["Id"], n["Name"], "network", n.get("Labels") or {})
                )
            for kind, items in (
                ("secret", self._list("/secrets", selector)),
                ("config", self._list("/configs", selector)),
            ):
                for o in items:
                    spec = o.get("Spec", {})
                    labels = spec.get("Labels") or {}
                    state = labels.get("io.envkit.state")
                    k = "lease" if state == "lease" else "state" if state else kind
                    objects.append(ObservedSwarmObject(o["ID"], spec.get("Name", ""), k, labels))
        except self._errors as exc:
            raise self._fail(exc, "observe", f"the Swarm stack {project}") from exc
        return ObservedSwarm(project, services, tuple(objects), tuple(down))

    def _service(
        self, s: Mapping[str, Any], raw_tasks: list[Any], nodes: dict[str, str], down: list[str]
    ) -> ObservedService:
        spec = s.get("Spec", {})
        labels = spec.get("Labels") or {}
        tasks = []
        for t in raw_tasks:
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
                    spec_version=_task_version(t, s),
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
            found = [x for x in self._list("/services", {"name": [name]})
                     if x["Spec"]["Name"] == name]  # fmt: skip
            if not found:
                return None
            nodes, down = self._nodes()
            tasks = self._tasks([found[0]["ID"]])
        except self._errors as exc:
            raise self._fail(exc, "inspect", f"service {name}") from exc
        return self._service(found[0], tasks[found[0]["ID"]], nodes, down)

    def image_digests(self, refs: list[str]) -> dict[str, str | None]:
        """The registry digest (``sha256:...``) of each image reference, as the manager's
        engine resolves it (``GET /distribution/REF/json``: what ``docker stack deploy``
        asks with ``--resolve-image always``). None for a reference no registry answers for:
        not pushed, the registry unreachable from the manager, no internet for Docker Hub."""
        out: dict[str, str | None] = {}
        for ref in refs:
            if ref in out:
                continue
            try:
                answer = self._get("/distribution/" + quote(ref, safe="/:@") + "/json")
            except self._errors:
                out[ref] = None
                continue
            digest = (answer.get("Descriptor") or {}).get("digest")
            ok = isinstance(digest, str) and re.fullmatch("sha256:[0-9a-f]{64}", digest) is not None
            out[ref] = digest if ok else None
        return out

    # --- objects -------------------------------------------------------------------------

    def create_network(self, name: str, spec: Mapping[str, Any]) -> str:
        body = {
            "Name": name,
            "Driver": spec.get("driver", "overlay"),
            "Options": dict(spec.get("driver_opts") or {}) or None,
            "Labels": dict(spec.get("labels") or {}),
            "Attachable": bool(spec.get("attachable", True)),
            "Internal": bool(spec.get("internal", False)),
            "Scope": "swarm",
            "CheckDuplicate": True,
        }
        try:
            out = self._call("POST", "/networks/create", body=body)
        except self._errors as exc:
            raise self._fail(exc, "create", f"network {name}") from exc
        return str(out["Id"])

    def create_object(self, kind: str, name: str, data: bytes, labels: Mapping[str, str]) -> str:
        import base64

        body = {"Name": name, "Data": base64.b64encode(data).decode("ascii"),
                "Labels": dict(labels)}  # fmt: skip
        try:
            out = self._call("POST", f"/{kind}s/create", body=body)
        except self._errors as exc:
            raise self._fail(exc, "create", f"{kind} {name}") from exc
        return str(out["ID"])

    def remove_object(self, kind: str, object_id: str) -> None:
        path = {"network": "networks", "secret": "secrets", "config": "configs",
                "state": "configs", "lease": "configs"}[kind]  # fmt: skip
        try:
            self._call("DELETE", f"/{path}/{quote(object_id, safe='')}")
        except self._errors as exc:
            if _not_found(exc):
                return
            raise self._fail(exc, "remove", f"{kind} {object_id}") from exc

    def list_leases(self) -> list[ObservedSwarmObject]:
        """Every stack's lease on the cluster (``envkit.reconcile.swarm_gc``)."""
        try:
            found = self._list("/configs", {"label": ["io.envkit.state=lease"]})
        except self._errors as exc:
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
            data = self._get(f"/configs/{quote(config_id, safe='')}")["Spec"].get("Data", "")
        except self._errors as exc:
            raise self._fail(exc, "read", f"config {config_id}") from exc
        return base64.b64decode(data)

    def object_ids(self) -> dict[str, str]:
        """Engine name -> id of every network, secret and config (for specs that want ids)."""
        out: dict[str, str] = {}
        try:
            for n in self._list("/networks"):
                out[n["Name"]] = n["Id"]
            for o in self._list("/secrets") + self._list("/configs"):
                out[o["Spec"]["Name"]] = o["ID"]
        except self._errors as exc:
            raise self._fail(exc, "list", "networks, secrets and configs") from exc
        return out

    # --- services ------------------------------------------------------------------------

    def create_service(self, spec: Mapping[str, Any]) -> str:
        try:
            result = self._call("POST", "/services/create", body=dict(spec))
        except self._errors as exc:
            raise self._fail(exc, "create", f"service {spec.get('Name')}") from exc
        return str(result["ID"])

    def update_service(
        self, service_id: str, version: int, spec: Mapping[str, Any], *, rollback: bool = False
    ) -> None:
        """Send the whole ``spec`` at ``version``; on "update out of sequence" re-read the
        version and try once more."""
        path = f"/services/{quote(service_id, safe='')}"
        for attempt in (1, 2):
            try:
                params: dict[str, Any] = {"version": version}
                if rollback:
                    params["rollback"] = "previous"
                self._call("POST", path + "/update", params, body=dict(spec))
                return
            except self._errors as exc:
                if attempt == 1 and "out of sequence" in str(exc):
                    version = int(self._get(path)["Version"]["Index"])
                    continue
                raise self._fail(exc, "update", f"service {spec.get('Name')}") from exc

    def remove_service(self, service_id: str) -> None:
        try:
            self._call("DELETE", f"/services/{quote(service_id, safe='')}")
        except self._errors as exc:
            if _not_found(exc):
                return
            raise self._fail(exc, "remove", f"service {service_id}") from exc

    def task_logs(self, task_id: str, lines: int) -> list[str]:
        """The last ``lines`` lines a task wrote, for a failure's detail. When the manager
        says it could not read them (the node's log session is down, as for a few seconds
        after the node reconnects), ask again, twice, then end with what it said instead."""
        said: list[str] = []
        for attempt in range(3):
            if attempt:
                time.sleep(0.5 * attempt)
            try:
                res = self.api._get(
                    self.api._url("/tasks/{0}/logs", task_id),
                    params={"stdout": 1, "stderr": 1, "tail": lines},
                    stream=False,
                )
                self.api._raise_for_status(res)
                raw = res.content
            except self._errors:
                return []
            text, said = demux_log_frames(raw)
            if not said:
                return text[-lines:]
        notes = [f"(the manager could not read these logs: {m})" for m in self._named(said)]
        return text[-lines:] + notes

    def read_logs(
        self,
        kind: Literal["service", "task"],
        object_id: str,
        options: LogOptions,
        *,
        follow: bool = False,
        engine_said: Callable[[str], None],
    ) -> Iterator[bytes]:
        """``/services/{id}/logs`` or ``/tasks/{id}/logs`` with details (which task wrote
        each line); the engine has no ``until`` there, so ``options.until`` is refused
        before this is called. What the manager says about the stream itself (stream 3 of
        the multiplexed format, e.g. that a node's logs cannot be read) goes to
        ``engine_said``, node ids followed by hostnames, never into the log lines. The
        SDK's own reader drops the stream number, so the frames are read here."""
        params = {
            "details": True,
            "follow": follow,
            "stdout": True,
            "stderr": True,
            "since": options.since,
            "timestamps": options.timestamps,
            "tail": "all" if options.tail is None else options.tail,
        }
        try:
            api = self.api
            res = api._get(
                api._url(f"/{kind}s/{{0}}/logs", object_id),
                params={k: v for k, v in params.items() if v is not None},
                stream=True,
            )
            api._raise_for_status(res)
            if follow:
                api._disable_socket_timeout(api._get_raw_response_socket(res))
            for stream, data in read_log_frames(res.raw.read, getattr(res.raw, "read1", None)):
                if stream == SYSTEM_ERR:
                    for message in self._named([data.decode("utf-8", "replace")]):
                        engine_said(message)
                else:
                    yield data
        except self._errors as exc:
            raise self._fail(exc, "read the logs of", f"{kind} {object_id}") from exc

    def _named(self, messages: list[str]) -> list[str]:
        """The manager's log-stream messages without the gRPC wrapping, each node id
        followed by the node's hostname."""
        out = [_clean_stream_message(m) for m in messages]
        ids = {i for m in out for i in _NODE_ID.findall(m)}
        if not ids:
            return out
        try:
            names = {
                str(n.get("ID")): str((n.get("Description") or {}).get("Hostname") or "")
                for n in self._list("/nodes")
            }
        except self._errors:
            return out
        return [
            _NODE_ID.sub(lambda g: f"{g[0]} ({names[g[0]]})" if names.get(g[0]) else g[0], m)
            for m in out
        ]

    def containers_left(self, service_names: list[str]) -> int:
        """Tasks of these services that still hold a container (Swarm removes asynchronously)."""
        if not service_names:
            return 0
        try:
            left = 0
            for t in self._list("/tasks", {"service": list(service_names)}):
                if t.get("Status", {}).get("State") not in ("shutdown", "complete", "failed",
                                                              "rejected", "orphaned", "remove"):  # fmt: skip
                    left += 1
            return left
        except self._errors as exc:
            if _not_found(exc):
                return 0
            raise self._fail(exc, "list", "tasks") from exc


def _not_found(exc: Exception) -> bool:
    """An SDK ``NotFound`` or a raw 404."""
    return getattr(getattr(exc, "response", None), "status_code", None) == 404


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


def _task_version(t: Mapping[str, Any], service: Mapping[str, Any]) -> int | None:
    """The service version a task was made for: ``SpecVersion`` (Engine 23+). Engine 20.10
    does not say, so there a task whose container spec (and force-update counter) is the
    service's current one counts as current, and any other as made for an older version
    (0): without it, the moment after an update, when Swarm has not yet begun to replace
    the tasks and the service shows no update status, looks converged."""
    v = t.get("SpecVersion") or {}
    index = v.get("Index")
    if isinstance(index, int):
        return index
    current = (service.get("Spec") or {}).get("TaskTemplate") or {}
    spec = t.get("Spec") or {}
    if not current or not spec:
        return None
    same = spec.get("ContainerSpec") == current.get("ContainerSpec") and spec.get(
        "ForceUpdate", 0
    ) == current.get("ForceUpdate", 0)
    return int((service.get("Version") or {}).get("Index", 0)) if same else 0


SYSTEM_ERR = 3  # the multiplexed stream's fourth stream: the engine's own messages
_NODE_ID = re.compile(r"(?<=node )[a-z0-9]{25}\b")
_RPC_WRAPPING = re.compile(r"^(?:Error grabbing logs: )?(?:rpc error: code = \w+ desc = )?")


def read_log_frames(
    read: Callable[[int], bytes], read_some: Callable[[int], bytes] | None = None
) -> Iterator[tuple[int, bytes]]:
    """The frames of Docker's multiplexed stream, ``(stream, payload)``, from ``read(n)``
    (a socket's or a response's read): an 8-byte header (stream 0-3, three zero bytes,
    a big-endian length) before each payload. Ends at the end of the input, or at a
    header that is not one: a TTY's raw stream, whose bytes are then yielded as stream 1
    as they come (``read_some(n)``: whatever is there, up to n, for a followed stream)."""
    more = read_some or read
    while True:
        first = read(1)
        if not first:
            return
        # A TTY's stream is told by its first byte (text, not a stream number), so a short
        # line is shown at once, not when 8 bytes have come.
        header = first if first[0] > SYSTEM_ERR else first + _read_exactly(read, 7)
        if len(header) < 8 or header[1:4] != b"\0\0\0":
            yield 1, header
            while chunk := more(65536):
                yield 1, chunk
            return
        size = int.from_bytes(header[4:8], "big")
        if size:
            yield header[0], _read_exactly(read, size)


def _read_exactly(read: Callable[[int], bytes], n: int) -> bytes:
    parts: list[bytes] = []
    while n > 0:
        part = read(n)
        if not part:
            break
        parts.append(part)
        n -= len(part)
    return b"".join(parts)


def demux_log_frames(raw: bytes) -> tuple[list[str], list[str]]:
    """A whole multiplexed log answer (or a TTY's plain text): its lines (stdout and
    stderr in order) and what the engine said about the stream (stream 3)."""
    text: list[bytes] = []
    said: list[str] = []
    for stream, data in read_log_frames(io.BytesIO(raw).read):
        if stream == SYSTEM_ERR:
            said.append(data.decode("utf-8", "replace").strip())
        else:
            text.append(data)
    return b"".join(text).decode("utf-8", "replace").splitlines(), said


def _clean_stream_message(message: str) -> str:
    """``Error grabbing logs: rpc error: code = Unknown desc = warning: incomplete log
    stream. some logs could not be retrieved for the following reasons: node X is not
    available`` -> ``incomplete log stream: node X is not available``."""
    text = _RPC_WRAPPING.sub("", message.strip())
    head, sep, reasons = text.partition(
        ". some logs could not be retrieved for the following reasons: "
    )
    if sep:
        text = head.removeprefix("warning: ") + ": " + reasons
    return text

"""The Docker engine adapter: the only module in envkit that imports the docker SDK.

The SDK is imported lazily (on the first engine call), so ``envkit --help`` and the pure
pipeline never pay for it. Every SDK/requests exception is translated in one place,
:meth:`DockerEngine._boundary`, into an :class:`~envkit.errors.EngineError` naming the
operation and the object; nothing else in envkit sees a docker exception.

``observe`` makes four calls whatever the size of the project: one container list (all
containers: this project's are picked by label, the rest tell which desired names and
host ports someone else holds), one network list, one volume list and one image list.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from envkit.engine.base import (
    ContainerStatus,
    ImageInfo,
    ObservedContainer,
    ObservedNetwork,
    ObservedState,
    ObservedVolume,
    PortBinding,
    PortUse,
)
from envkit.errors import EngineError, EngineUnavailable, EnvkitError, ImageNotFound
from envkit.model import (
    LABEL,
    DesiredState,
    MountType,
    PullPolicy,
    ServiceSpec,
    container_name,
)

__all__ = ["DockerEngine"]

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
_NS = 1_000_000_000
START_HINT = (
    "start the engine (as root: `scripts/engine-up.sh`, `systemctl start docker`, or "
    "`nohup dockerd >/var/log/dockerd.log 2>&1 &`), or point DOCKER_HOST at one that runs"
)
IMAGE_HINT = (
    "build it (`docker build -t IMAGE ...`), load it (`docker load -i FILE` or "
    "`envkit bundle load FILE`), or make its registry reachable"
)
PULL_HINT = (
    "no registry reachable? bring the images in as a bundle (`envkit bundle save ENV` where "
    "they are, `envkit bundle load FILE` here), build them (build: in the stack), or push a "
    "bundle to a private registry (`envkit bundle push FILE --registry HOST:PORT`) and set "
    "`registry: HOST:PORT` on the environment; for a private registry, `docker login` it"
)

OutputCallback = Callable[[str], None]
_BUILD_TAIL = 30  # output lines of a failing build step shown in the error


class DockerEngine:
    """:class:`envkit.engine.base.Engine` on a Docker engine, through the SDK's low-level
    ``APIClient`` (its JSON is what we parse; no per-container inspect in ``observe``)."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        version: str | None = None,
        timeout_s: float = 120.0,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        env = dict(os.environ if environment is None else environment)
        self._env = env
        self._base_url = base_url
        self._version = version or env.get("DOCKER_API_VERSION") or "auto"
        self._timeout_s = timeout_s
        self._client: Any = None
        # image reference -> id pulled by this engine object (pull_policy always: `up`
        # pulls before planning, and apply does not pull the same reference again)
        self._pulled: dict[str, str] = {}

    @classmethod
    def from_env(cls, environment: Mapping[str, str] | None = None) -> DockerEngine:
        """An engine configured like the docker CLI: DOCKER_HOST, DOCKER_TLS_VERIFY,
        DOCKER_CERT_PATH, DOCKER_API_VERSION. Connects on the first call, not here."""
        return cls(environment=environment)

    # -- the boundary ---------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """Where the engine is looked for, as a person would name it."""
        if self._base_url:
            url = self._base_url
        elif self._env.get("DOCKER_HOST"):
            return f"DOCKER_HOST={self._env['DOCKER_HOST']}"
        else:
            url = DEFAULT_SOCKET
        if url.startswith("unix://"):
            return f"the socket {url.removeprefix('unix://')}"
        return url

    @property
    def is_local(self) -> bool:
        """Whether the engine runs on this host (so a host port is bound here)."""
        url = self._base_url or self._env.get("DOCKER_HOST") or DEFAULT_SOCKET
        return (
            url.startswith(("unix://", "npipe://", "/"))
            or "://localhost" in url
            or ("://127.0.0.1" in url)
        )

    def _api(self) -> Any:
        if self._client is None:
            with self._boundary("connect to", "the Docker engine"):
                from docker import APIClient
                from docker.utils import kwargs_from_env

                if self._base_url:
                    kwargs: dict[str, Any] = {"base_url": self._base_url}
                else:
                    kwargs = dict(kwargs_from_env(environment=self._env))
                self._client = APIClient(
                    version=self._version,
                    timeout=int(self._timeout_s),
                    max_pool_size=32,
                    **kwargs,
                )
        return self._client

    @contextlib.contextmanager
    def _boundary(self, operation: str, subject: str) -> Iterator[None]:
        """The one place SDK and transport errors become envkit errors."""
        try:
            yield
        except EnvkitError:
            raise
        except Exception as exc:
            raise self._translate(exc, operation, subject) from exc

    def _translate(self, exc: Exception, operation: str, subject: str) -> EnvkitError:
        chain = _exception_chain(exc)
        if any(isinstance(e, PermissionError) for e in chain):
            return EngineUnavailable(
                f"permission denied on {self.endpoint} (while trying to {operation} {subject})",
                hint="add your user to the docker group (`sudo usermod -aG docker $USER`, "
                "then log in again) or run envkit as root",
                code="engine-permission-denied",
            )
        names = {type(e).__name__ for e in chain}
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status is None and (
            names & {"ConnectionError", "NewConnectionError", "ProtocolError"}
            or any(isinstance(e, ConnectionRefusedError | FileNotFoundError) for e in chain)
        ):
            return EngineUnavailable(
                f"no Docker engine answers at {self.endpoint} (while trying to "
                f"{operation} {subject})",
                hint=START_HINT,
            )
        if names & {"ReadTimeout", "Timeout", "ConnectTimeout"}:
            return EngineError(
                f"the Docker engine at {self.endpoint} did not answer in time "
                f"({self._timeout_s:g}s) to {operation} {subject}",
                hint="the engine is overloaded or stuck; check `docker info` and its log",
                code="engine-timeout",
            )
        explanation = str(getattr(exc, "explanation", None) or exc)
        if type(exc).__name__ == "ImageNotFound":
            return ImageNotFound(f"cannot {operation} {subject}: {explanation}", hint=IMAGE_HINT)
        code = {404: "engine-not-found", 409: "engine-conflict"}.get(status or 0, "engine-error")
        return EngineError(f"cannot {operation} {subject}: {explanation}", code=code)

    # -- observe ----------------------------------------------------------------------

    def observe(self, desired: DesiredState) -> ObservedState:
        project = desired.project
        with self._boundary("list containers", f"of {project}"):
            raw_containers = self._api().containers(all=True)
        with self._boundary("list networks", f"of {project}"):
            raw_networks = self._api().networks()
        with self._boundary("list volumes", f"of {project}"):
            raw_volumes = self._api().volumes().get("Volumes") or []

        own = [c for c in raw_containers if _labels(c).get(LABEL.PROJECT) == project]
        others = [c for c in raw_containers if _labels(c).get(LABEL.PROJECT) != project]
        networks = tuple(
            ObservedNetwork(id=n.get("Id", ""), name=n.get("Name", ""), labels=_labels(n))
            for n in raw_networks
            if _labels(n).get(LABEL.PROJECT) == project
        )
        volumes = tuple(
            ObservedVolume(name=v.get("Name", ""), labels=_labels(v))
            for v in raw_volumes
            if _labels(v).get(LABEL.PROJECT) == project
        )

        foreign: dict[str, str] = {}
        wanted_containers = {
            container_name(project, s.name, r)
            for s in desired.services
            for r in range(1, s.replicas + 1)
        }
        for c in others:
            name = _container_name(c)
            if name in wanted_containers:
                foreign[name] = "container"
        for n in raw_networks:
            if n.get("Name") == desired.network and _labels(n).get(LABEL.PROJECT) != project:
                foreign[desired.network] = "network"
        wanted_volumes = {desired.volume_name(v.name) for v in desired.volumes if not v.external}
        for v in raw_volumes:
            if v.get("Name") in wanted_volumes and _labels(v).get(LABEL.PROJECT) != project:
                foreign[v["Name"]] = "volume"

        return ObservedState(
            project=project,
            containers=tuple(_parse_container(c) for c in own),
            networks=networks,
            volumes=volumes,
            images=self._image_ids({s.image for s in desired.services}),
            foreign_names=foreign,
            ports_in_use=self._ports_in_use(desired, own, others),
        )

    def _image_ids(self, refs: set[str]) -> dict[str, str | None]:
        if not refs:
            return {}
        with self._boundary("list images", "on the engine"):
            images = self._api().images()
        index: dict[str, str] = {}
        for image in images:
            for tag in image.get("RepoTags") or ():
                index[_normalize_ref(tag)] = image["Id"]
            for digest in image.get("RepoDigests") or ():
                index[_normalize_ref(digest)] = image["Id"]
            index[image["Id"]] = image["Id"]
        out: dict[str, str | None] = {}
        for ref in sorted(refs):
            out[ref] = index.get(_normalize_ref(ref)) or index.get(ref)
        return out

    def _ports_in_use(
        self, desired: DesiredState, own: list[dict[str, Any]], others: list[dict[str, Any]]
    ) -> tuple[PortUse, ...]:
        wanted = sorted(
            {
                (p.host_ip, p.published, p.protocol)
                for s in desired.services
                for p in s.ports
                if p.published is not None
            }
        )
        if not wanted:
            return ()
        found: list[PortUse] = []
        claimed: set[tuple[str, int, str]] = set()
        for c in own:
            for p in c.get("Ports") or ():
                if p.get("PublicPort"):
                    claimed.add((p.get("IP", ""), int(p["PublicPort"]), p.get("Type", "tcp")))
        for host_ip, port, proto in wanted:
            holder = _port_holder(others, host_ip, port, proto)
            if holder is not None:
                found.append(PortUse(host_ip, port, proto, holder))
                continue
            if any(_ip_overlap(ip, host_ip) and q == port and t == proto for ip, q, t in claimed):
                continue
            if self.is_local and _bound_on_host(host_ip, port, proto):
                found.append(PortUse(host_ip, port, proto, "a process on the host"))
        return tuple(found)

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ObservedContainer]:
        filters = {"label": [k if v is None else f"{k}={v}" for k, v in labels.items()]}
        with self._boundary("list containers", "with envkit labels"):
            raw = self._api().containers(all=True, filters=filters)
        return [_parse_container(c) for c in raw]

    def list_networks(self, labels: Mapping[str, str | None]) -> list[ObservedNetwork]:
        """Networks carrying ``labels`` (a None value: the key, with any value)."""
        filters = {"label": [k if v is None else f"{k}={v}" for k, v in labels.items()]}
        with self._boundary("list networks", "with envkit labels"):
            raw = self._api().networks(filters=filters)
        return [
            ObservedNetwork(
                id=str(n.get("Id", "")),
                name=str(n.get("Name", "")),
                labels=_labels(n),
                created=str(n.get("Created") or ""),
            )
            for n in raw
        ]

    def list_volumes(self, labels: Mapping[str, str | None]) -> list[ObservedVolume]:
        """Volumes carrying ``labels`` (a None value: the key, with any value)."""
        filters = {"label": [k if v is None else f"{k}={v}" for k, v in labels.items()]}
        with self._boundary("list volumes", "with envkit labels"):
            raw = self._api().volumes(filters=filters).get("Volumes") or []
        return [
            ObservedVolume(
                name=str(v.get("Name", "")),
                labels=_labels(v),
                created=str(v.get("CreatedAt") or ""),
            )
            for v in raw
        ]

    # -- images -----------------------------------------------------------------------

    def image_id(self, ref: str) -> str | None:
        """The local id of an image reference, or None when it is not on the engine."""
        try:
            with self._boundary("inspect image", ref):
                return str(self._api().inspect_image(ref)["Id"])
        except EngineError as exc:
            if isinstance(exc, ImageNotFound) or exc.code == "engine-not-found":
                return None
            raise

    def _local_labels(self, ref: str) -> tuple[str, dict[str, str]] | None:
        """(id, labels) of a local image, or None when it is not on the engine."""
        try:
            with self._boundary("inspect image", ref):
                info = self._api().inspect_image(ref)
        except EngineError as exc:
            if isinstance(exc, ImageNotFound) or exc.code == "engine-not-found":
                return None
            raise
        labels = (info.get("Config") or {}).get("Labels") or {}
        return str(info["Id"]), dict(labels)

    def ensure_image(self, spec: ServiceSpec, on_output: OutputCallback | None = None) -> str:
        """Make the service's image present; return its id. Compose's pull policies:

        - ``always``: pull (once per engine object: ``up`` pulls before planning, see
          :meth:`refresh_image`, and apply does not pull the same reference again);
        - ``missing`` (default): use the local image; without one, build when the service
          has ``build:``, else pull. With ``build:``, a local image counts only when it was
          built from the same context, Dockerfile, args and target (its ``io.envkit.build``
          label), so a changed context rebuilds;
        - ``never``: the local image or an error; ``build``: always build.
        """
        from envkit.buildcontext import BUILD_LABEL, build_fingerprint

        ref = spec.image
        policy = spec.pull_policy
        if policy is PullPolicy.ALWAYS:
            pulled = self._pulled.get(ref)
            if pulled is not None and self.image_id(ref) == pulled:
                return pulled
            return self._pull(spec, on_output)
        if policy is PullPolicy.BUILD:
            if spec.build is None:
                raise ImageNotFound(
                    f"service {spec.name}: pull_policy is 'build' but the service has no build:",
                    hint="add a build: section or choose another pull_policy",
                    origin=spec.origin,
                )
            return self._build(spec, on_output)
        local = self._local_labels(ref)
        if spec.build is not None and policy is PullPolicy.MISSING:
            if local is not None and local[1].get(BUILD_LABEL) == build_fingerprint(spec.build):
                return local[0]
            return self._build(spec, on_output)
        if local is not None:
            return local[0]
        if policy is PullPolicy.NEVER:
            raise ImageNotFound(
                f"service {spec.name}: image {ref!r} is not on the local engine "
                f"({self.endpoint}) and its pull_policy is 'never'",
                hint=IMAGE_HINT,
                origin=spec.origin,
            )
        return self._pull(spec, on_output, missing_locally=True)

    def refresh_image(self, spec: ServiceSpec, on_output: OutputCallback | None = None) -> str:
        """Pull ``spec.image`` now (for pull_policy always, before planning), so the
        planner compares containers with the registry's current image. Returns its id."""
        return self._pull(spec, on_output)

    def _pull(
        self, spec: ServiceSpec, on_output: OutputCallback | None, *, missing_locally: bool = False
    ) -> str:
        """Pull ``spec.image``. ``missing_locally``: it was looked for on the engine first,
        and a failure says so (where it was looked for, then where it was pulled from)."""
        ref = spec.image
        registry = _registry_of(ref)
        where = f" (it is not on the local engine, {self.endpoint})" if missing_locally else ""
        repo, tag = _split_tag(ref)
        try:
            with self._boundary("pull image", ref):
                # No auth_config: the SDK reads the engine user's ~/.docker/config.json
                # (DOCKER_CONFIG), as `docker pull` does.
                for event in self._api().pull(repo, tag=tag, stream=True, decode=True):
                    if "error" in event:
                        raise EngineError(str(event["error"]))
                    if on_output is not None and event.get("status"):
                        progress = event.get("progress") or ""
                        line = f"{event.get('id', '')} {event['status']} {progress}".strip()
                        on_output(line)
        except EngineError as exc:
            if isinstance(exc, EngineUnavailable):
                raise
            raise ImageNotFound(
                f"service {spec.name}: cannot pull {ref!r} from {registry}{where}: {exc.message}",
                hint=PULL_HINT,
                origin=spec.origin,
                code="pull-failed",
            ) from exc
        found = self.image_id(ref)
        if found is None:
            raise ImageNotFound(
                f"service {spec.name}: pulled {ref!r} from {registry} but the engine does not "
                "have it afterwards",
                hint=IMAGE_HINT,
                origin=spec.origin,
            )
        self._pulled[ref] = found
        return found

    def _build(self, spec: ServiceSpec, on_output: OutputCallback | None) -> str:
        """Build with the engine's (legacy) builder, labelled with the build fingerprint.
        Output lines go to ``on_output``; a failure names the failing step and its output."""
        from envkit.buildcontext import BUILD_LABEL, build_fingerprint

        build = spec.build
        assert build is not None
        step = ""  # the last "Step N/M : ..." line
        step_output: list[str] = []
        with self._boundary("build image", f"{spec.image} for service {spec.name}"):
            stream = self._api().build(
                path=build.context,
                dockerfile=build.dockerfile,
                tag=spec.image,
                buildargs=dict(build.args) or None,
                target=build.target,
                labels={BUILD_LABEL: build_fingerprint(build)},
                rm=True,
                forcerm=True,
                decode=True,
            )
            for event in stream:
                if "error" in event:
                    error = str(event["error"]).strip()
                    shown = step_output[-_BUILD_TAIL:]
                    detail = None
                    if step:
                        detail = f"  failing step: {step}"
                        if shown:
                            cut = len(step_output) - len(shown)
                            more = (
                                f"  (last {len(shown)} of {len(step_output)} lines)" if cut else ""
                            )
                            detail += f"\n  its output{more}:\n" + "\n".join(
                                f"    {line}" for line in shown
                            )
                    raise EngineError(
                        f"building {spec.image} for service {spec.name} failed: {error}",
                        code="build-failed",
                        origin=spec.origin,
                        detail=detail,
                        hint=f"fix that step of {build.dockerfile} or the context {build.context}",
                    )
                text = event.get("stream")
                if not text:
                    continue
                for line in str(text).splitlines():
                    if not line.strip():
                        continue
                    if line.startswith("Step "):
                        step, step_output = line.strip(), []
                    elif not line.startswith((" ---> ", "Removing intermediate")):
                        step_output.append(line.rstrip())
                    if on_output is not None:
                        on_output(line)
        found = self.image_id(spec.image)
        if found is None:
            raise EngineError(f"built {spec.image} but the engine does not have it afterwards")
        return found

    # -- images: save, load, tag, push (bundles) ----------------------------------------

    def image_info(self, ref: str) -> ImageInfo | None:
        """Id, tags and size of a local image, or None when it is not on the engine."""
        try:
            with self._boundary("inspect image", ref):
                info = self._api().inspect_image(ref)
        except EngineError as exc:
            if isinstance(exc, ImageNotFound) or exc.code == "engine-not-found":
                return None
            raise
        return ImageInfo(
            id=str(info["Id"]),
            tags=tuple(info.get("RepoTags") or ()),
            size=int(info.get("Size") or 0),
        )

    def save_images(self, refs: list[str], chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """``docker save REF...`` as a stream of tar bytes: one archive for all images, so
        layers they share are in it once. (The SDK's ``get_image`` takes one name; the
        engine's endpoint takes many, so this calls it through the SDK's request helpers.)"""
        api = self._api()
        subject = ", ".join(refs)
        with self._boundary("save images", subject):
            response = api._get(api._url("/images/get"), params={"names": refs}, stream=True)
            api._raise_for_status(response)
        with self._boundary("save images", subject):
            yield from api._stream_raw_result(response, chunk_size, False)

    def load_images(
        self, data: Iterable[bytes], on_output: OutputCallback | None = None
    ) -> list[str]:
        """``docker load`` from a stream of tar bytes; returns what the engine says it
        loaded (``Loaded image: ...`` lines)."""
        loaded: list[str] = []
        with self._boundary("load images", "from the bundle"):
            for event in self._api().load_image(data=iter(data)):
                if "error" in event:
                    raise EngineError(
                        f"the engine refused the bundle's images: {event['error']}",
                        code="load-failed",
                    )
                text = str(event.get("stream") or event.get("status") or "").strip()
                if text.startswith("Loaded image"):
                    loaded.append(text.split(":", 1)[1].strip())
                if text and on_output is not None:
                    on_output(text)
        return loaded

    def tag_image(self, image: str, ref: str) -> None:
        repo, tag = _split_tag(ref)
        with self._boundary("tag image", f"{image} as {ref}"):
            self._api().tag(image, repo, tag=tag)

    def push_image(self, ref: str, on_output: OutputCallback | None = None) -> None:
        """Push with the engine user's registry credentials (the SDK reads the docker
        config file, as `docker push` does)."""
        repo, tag = _split_tag(ref)
        registry = _registry_of(ref)
        try:
            with self._boundary("push image", ref):
                for event in self._api().push(repo, tag=tag, stream=True, decode=True):
                    if "error" in event:
                        raise EngineError(str(event["error"]))
                    if on_output is not None and event.get("status"):
                        line = f"{event.get('id', '')} {event['status']}".strip()
                        on_output(line)
        except EngineError as exc:
            if isinstance(exc, EngineUnavailable):
                raise
            raise EngineError(
                f"cannot push {ref} to {registry}: {exc.message}",
                code="push-failed",
                hint=f"check that the registry {registry} runs and answers (a registry on "
                "127.0.0.0/8 may use plain http; any other needs TLS or the engine's "
                "insecure-registries), and `docker login` it if it needs credentials",
            ) from exc

    # -- networks and volumes ----------------------------------------------------------

    def create_network(self, name: str, labels: Mapping[str, str]) -> None:
        with self._boundary("create network", name):
            self._api().create_network(name, driver="bridge", labels=dict(labels))

    def remove_network(self, name: str) -> None:
        with self._not_found_ok(), self._boundary("remove network", name):
            self._api().remove_network(name)

    def create_volume(
        self,
        name: str,
        labels: Mapping[str, str],
        driver: str = "local",
        driver_opts: Mapping[str, str] | None = None,
    ) -> None:
        with self._boundary("create volume", name):
            self._api().create_volume(
                name, driver=driver, driver_opts=dict(driver_opts or {}), labels=dict(labels)
            )

    def remove_volume(self, name: str) -> None:
        with self._not_found_ok(), self._boundary("remove volume", name):
            self._api().remove_volume(name)

    @contextlib.contextmanager
    def _not_found_ok(self) -> Iterator[None]:
        """Removing what is already gone succeeds: teardown is idempotent."""
        try:
            yield
        except EngineError as exc:
            if exc.code != "engine-not-found":
                raise

    # -- containers --------------------------------------------------------------------

    def create_container(
        self, desired: DesiredState, spec: ServiceSpec, replica: int, labels: Mapping[str, str]
    ) -> str:
        """Create ``{project}-{service}-{replica}`` on the project network, reachable there
        by its service name (a network alias). The hostname stays Docker's default (the
        short container id) unless the stack sets one, as in Compose: replicas of a service
        would otherwise share a hostname."""
        name = container_name(desired.project, spec.name, replica)
        api = self._api()
        with self._boundary("create container", name):
            from docker.types import Mount as SdkMount

            bindings: dict[str, list[tuple[str, int] | tuple[str]]] = {}
            for p in spec.ports:
                ip = p.host_ip or ""
                bindings.setdefault(p.key(), []).append(
                    (ip, p.published) if p.published is not None else (ip,)
                )
            mounts = [
                SdkMount(
                    target=m.target,
                    source=(
                        desired.volume_name(m.source)
                        if m.type is MountType.VOLUME and m.source
                        else m.source or None
                    ),
                    type=m.type.value,
                    read_only=m.read_only,
                )
                for m in spec.mounts
            ]
            host_config = api.create_host_config(
                port_bindings=bindings or None,
                mounts=mounts or None,
                restart_policy=_restart_policy(spec.restart),
                extra_hosts=dict(spec.extra_hosts) or None,
                cap_add=list(spec.cap_add) or None,
                cap_drop=list(spec.cap_drop) or None,
                privileged=spec.privileged,
                tmpfs=_tmpfs(spec.tmpfs) or None,
                init=spec.init,
                mem_limit=spec.mem_limit,
                nano_cpus=int(spec.cpus * _NS) if spec.cpus else None,
                network_mode=desired.network,
            )
            networking = api.create_networking_config(
                {desired.network: api.create_endpoint_config(aliases=[spec.name])}
            )
            created = api.create_container(
                image=spec.image,
                name=name,
                command=list(spec.command) if spec.command is not None else None,
                entrypoint=list(spec.entrypoint) if spec.entrypoint is not None else None,
                environment=[f"{k}={v}" for k, v in spec.environment] or None,
                ports=[(p.target, p.protocol) for p in spec.ports] or None,
                labels=dict(labels),
                user=spec.user,
                working_dir=spec.working_dir,
                hostname=spec.hostname,
                healthcheck=_healthcheck(spec),
                stop_timeout=(
                    round(spec.stop_grace_period_s)
                    if spec.stop_grace_period_s is not None
                    else None
                ),
                host_config=host_config,
                networking_config=networking,
                detach=True,
            )
        return str(created["Id"])

    def start_container(self, container_id: str) -> None:
        with self._boundary("start container", container_id):
            self._api().start(container_id)

    def stop_container(self, container_id: str, timeout_s: float) -> None:
        with self._not_found_ok(), self._boundary("stop container", container_id):
            self._api().stop(container_id, timeout=max(0, round(timeout_s)))

    def remove_container(self, container_id: str) -> None:
        """Force-remove, with its anonymous volumes (named volumes are never removed by
        this: Docker's ``v=True`` only deletes volumes that have no name)."""
        with self._not_found_ok(), self._boundary("remove container", container_id):
            self._api().remove_container(container_id, v=True, force=True)

    def status(self, container_id: str) -> ContainerStatus:
        with self._boundary("inspect container", container_id):
            info = self._api().inspect_container(container_id)
        state = info.get("State") or {}
        health = state.get("Health") or None
        status = str(state.get("Status", "unknown"))
        exit_code = state.get("ExitCode") if status in ("exited", "dead") else None
        log = tuple(
            f"exit {entry.get('ExitCode')}: {str(entry.get('Output', '')).strip()}"
            for entry in ((health or {}).get("Log") or [])[-5:]
        )
        return ContainerStatus(
            state=status,
            health=str(health["Status"]) if health and health.get("Status") else None,
            exit_code=int(exit_code) if exit_code is not None else None,
            health_log=log,
        )

    def logs(self, container_id: str, tail: int | None = None) -> str:
        with self._boundary("read logs of", container_id):
            raw = self._api().logs(
                container_id, stdout=True, stderr=True, tail="all" if tail is None else tail
            )
        return bytes(raw).decode("utf-8", errors="replace")

    def follow_logs(self, container_id: str) -> Iterator[bytes]:
        with self._boundary("follow logs of", container_id):
            stream = self._api().logs(
                container_id, stdout=True, stderr=True, stream=True, follow=True
            )
            yield from stream

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def build_context_files(context: str, dockerfile: str) -> list[str]:
    """The files and folders (relative, sorted) of a build context that the SDK sends to the
    engine: docker's own ``.dockerignore`` matcher, read the way ``APIClient.build`` reads
    it, so ``envkit.buildcontext`` hashes exactly what a build sees."""
    from docker.utils.build import exclude_paths

    patterns: list[str] = []
    ignore = os.path.join(context, ".dockerignore")
    if os.path.exists(ignore):
        with open(ignore, encoding="utf-8") as f:
            lines = [line.strip() for line in f.read().splitlines()]
        patterns = [line for line in lines if line and not line.startswith("#")]
    inside = dockerfile
    if os.path.isabs(dockerfile):
        inside = os.path.relpath(dockerfile, context)
    return sorted(exclude_paths(context, patterns, dockerfile=inside))


# -- parsing the engine's JSON (pure) ---------------------------------------------------


def _exception_chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or any(e is seen for seen in out):
            continue
        out.append(e)
        todo.extend([e.__cause__, e.__context__])
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
    return out


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = obj.get("Labels")
    return dict(labels) if isinstance(labels, dict) else {}


def _container_name(raw: Mapping[str, Any]) -> str:
    names = raw.get("Names") or [""]
    return str(names[0]).lstrip("/")


_EXITED = re.compile(r"Exited \((-?\d+)\)")


def _exit_code_from_status(status: str) -> int | None:
    """``Exited (0) 5 minutes ago`` -> 0: the list call carries it, no inspect needed."""
    found = _EXITED.match(status)
    return int(found.group(1)) if found else None


def _health_from_status(status: str) -> str | None:
    if "(healthy)" in status:
        return "healthy"
    if "(unhealthy)" in status:
        return "unhealthy"
    if "(health: starting)" in status:
        return "starting"
    return None


def _parse_container(raw: Mapping[str, Any]) -> ObservedContainer:
    labels = _labels(raw)
    try:
        spec = json.loads(labels.get(LABEL.SPEC, ""))
    except ValueError:
        spec = {}
    try:
        replica = int(labels.get(LABEL.REPLICA, "0"))
    except ValueError:
        replica = 0
    created = raw.get("Created")
    ports = tuple(
        PortBinding(
            target=int(p.get("PrivatePort", 0)),
            protocol=str(p.get("Type", "tcp")),
            host_ip=str(p.get("IP", "")),
            host_port=int(p["PublicPort"]),
        )
        for p in raw.get("Ports") or ()
        if p.get("PublicPort")
    )
    return ObservedContainer(
        id=str(raw.get("Id", "")),
        name=_container_name(raw),
        project=labels.get(LABEL.PROJECT, ""),
        service=labels.get(LABEL.SERVICE, ""),
        replica=replica,
        spec_hash=labels.get(LABEL.SPEC_HASH, ""),
        spec=spec if isinstance(spec, dict) else {},
        image_id=str(raw.get("ImageID", "")),
        state=str(raw.get("State", "")),
        health=_health_from_status(str(raw.get("Status", ""))),
        ports=tuple(sorted(ports, key=lambda b: (b.target, b.protocol, b.host_ip))),
        exit_code=_exit_code_from_status(str(raw.get("Status", ""))),
        labels=labels,
        created=(
            datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z")
            if isinstance(created, int | float)
            else str(created or "")
        ),
    )


def _ip_overlap(a: str, b: str) -> bool:
    wildcard = {"", "0.0.0.0", "::"}
    return a in wildcard or b in wildcard or a == b


def _port_holder(
    containers: list[dict[str, Any]], host_ip: str, port: int, proto: str
) -> str | None:
    for c in containers:
        for p in c.get("Ports") or ():
            if (
                p.get("PublicPort") == port
                and p.get("Type", "tcp") == proto
                and _ip_overlap(str(p.get("IP", "")), host_ip)
            ):
                other = _labels(c).get(LABEL.PROJECT)
                suffix = f" (project {other})" if other else " (not managed by envkit)"
                return f"container {_container_name(c)}{suffix}"
    return None


def _bound_on_host(host_ip: str, port: int, proto: str) -> bool:
    """Whether a process on this host holds ``host_ip:port``: try to bind it ourselves."""
    if proto not in ("tcp", "udp"):
        return False
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(family, kind) as sock:
        if proto == "tcp":  # do not mistake a TIME_WAIT leftover for a listener
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0"), port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _split_tag(ref: str) -> tuple[str, str | None]:
    if "@" in ref:
        repo, digest = ref.split("@", 1)
        return repo, digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, "latest"


def _normalize_ref(ref: str) -> str:
    """``busybox`` and ``docker.io/library/busybox:latest`` -> ``busybox:latest``."""
    if ref.startswith("sha256:"):
        return ref
    repo, tag = _split_tag(ref)
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/"):
        if repo.startswith(prefix):
            repo = repo.removeprefix(prefix)
            break
    sep = "@" if tag and tag.startswith("sha256:") else ":"
    return f"{repo}{sep}{tag}"


def _registry_of(ref: str) -> str:
    first = ref.split("/", 1)[0]
    if "/" in ref and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io (Docker Hub)"


def _restart_policy(restart: str) -> dict[str, Any] | None:
    if restart in ("", "no"):
        return None
    name, _, count = restart.partition(":")
    policy: dict[str, Any] = {"Name": name}
    if name == "on-failure" and count:
        policy["MaximumRetryCount"] = int(count)
    return policy


def _tmpfs(entries: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for entry in entries:
        path, _, options = entry.partition(":")
        out[path] = options
    return out


def _healthcheck(spec: ServiceSpec) -> dict[str, Any] | None:
    hc = spec.healthcheck
    if hc is None:
        return None
    out: dict[str, Any] = {"test": list(hc.test)}
    for key, seconds in (
        ("interval", hc.interval_s),
        ("timeout", hc.timeout_s),
        ("start_period", hc.start_period_s),
    ):
        if seconds is not None:
            out[key] = int(seconds * _NS)
    if hc.retries is not None:
        out["retries"] = hc.retries
    return out

"""The Docker engine adapter: the only module in envkit that imports the docker SDK.

The SDK is imported lazily (on the first engine call), so ``envkit --help`` and the pure
pipeline never pay for it. Every SDK/requests exception is translated in one place,
:meth:`DockerEngine._boundary`, into an :class:`~envkit.errors.EngineError` naming the
operation and the object; nothing else in envkit sees a docker exception.

``observe`` makes four calls whatever the size of the project: one container list (all
containers: this project's are picked by label, the rest tell which desired names and
host ports someone else holds), one network list, one volume list and one image list.

Its parts: :mod:`envkit.engine.docker_json` reads the engine's JSON into observed values
(pure), and :mod:`envkit.engine.docker_images` does the image work (pull, build, save,
load, push) through this module's client and boundary, and
:mod:`envkit.engine.docker_lists` makes the list calls: raw GETs on a unix socket, so that
a read-only command (a no-op ``up``, ``plan``, ``ps``) never imports the SDK.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from envkit.engine.base import (
    ContainerStatus,
    Engine,
    EngineEvent,
    ExecResult,
    ImageInfo,
    LogOptions,
    NetworkEndpoint,
    ObservedContainer,
    ObservedNetwork,
    ObservedState,
    ObservedVolume,
    PathStat,
    Processes,
)
from envkit.engine.bindsources import probe_bind_source
from envkit.engine.docker_connect import make_client
from envkit.engine.docker_containers import DockerContainers
from envkit.engine.docker_create import (
    anonymous_targets,
    links,
)
from envkit.engine.docker_errors import START_HINT, translate
from envkit.engine.docker_images import IMAGE_HINT, PULL_HINT, DockerImages, OutputCallback
from envkit.engine.docker_json import (
    image_ids,
    label_filters,
    parse_container,
    parse_network,
    parse_status,
    parse_volume,
)
from envkit.engine.docker_lists import DockerLists
from envkit.engine.docker_request import create_request, send_create
from envkit.engine.endpoint import (
    DEFAULT_SOCKET,
    EngineEndpoint,
    endpoint_from_env,
    parse_endpoint,
)
from envkit.engine.occupied import bound_on_host, observed_state
from envkit.errors import EngineError, EnvkitError, ImageNotFound
from envkit.model import (
    DEFAULT_NETWORK,
    LABEL,
    DesiredState,
    NetworkSpec,
    ServiceNetwork,
    ServiceSpec,
)

__all__ = [
    "DEFAULT_SOCKET",
    "IMAGE_HINT",
    "PULL_HINT",
    "START_HINT",
    "DockerEngine",
    "OutputCallback",
]

_REMOVAL_WAIT_S = 60.0  # for a removal another client started to finish


class DockerEngine:
    """:class:`envkit.engine.base.Engine` on a Docker engine, through the SDK's low-level
    ``APIClient`` (its JSON is what we parse; no per-container inspect in ``observe``).
    ``endpoint``: where the engine is (an :class:`EngineEndpoint` or its text, default the
    local socket); :func:`envkit.engine.factory.engine_from_env` reads it from DOCKER_HOST
    and friends."""

    def __init__(
        self,
        endpoint: EngineEndpoint | str | None = None,
        *,
        version: str | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        if not isinstance(endpoint, EngineEndpoint):
            endpoint = parse_endpoint(endpoint or DEFAULT_SOCKET)
        self._endpoint = endpoint
        self._version = version or "auto"
        self._timeout_s = timeout_s
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._images = DockerImages(self._api, self._boundary, self.endpoint)
        self._lists = DockerLists(
            endpoint, self._version, timeout_s, self._api, lambda: self._client is not None
        )
        self._containers = DockerContainers(self._api, self._boundary)

    @classmethod
    def from_env(cls, environment: Mapping[str, str] | None = None) -> DockerEngine:
        """An engine configured like the docker CLI: DOCKER_HOST (or DOCKER_CONTEXT),
        DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_API_VERSION. Connects on the first
        call, not here. Callers use :func:`envkit.engine.factory.engine_from_env`."""
        env = os.environ if environment is None else environment
        return cls(endpoint_from_env(env), version=env.get("DOCKER_API_VERSION"))

    # -- where the engine is --------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """Where the engine is looked for, as a person would name it."""
        return self._endpoint.display

    @property
    def identity(self) -> str:
        return self._endpoint.identity

    @property
    def is_local(self) -> bool:
        """Whether the engine runs on this host (so a host port is bound here)."""
        return self._endpoint.is_local

    def connect_host(self, host_ip: str = "") -> str:
        return self._endpoint.connect_host(host_ip)

    # -- the boundary ---------------------------------------------------------------

    def _api(self) -> Any:
        """The one SDK client, made on first use. Under a lock: when the first SDK call is
        made by a worker pool (down's stops), every worker would otherwise build a client
        of its own, each with a ``GET /version`` and a connection pool."""
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    with self._boundary("connect to", "the Docker engine"):
                        self._client = make_client(self._endpoint, self._version, self._timeout_s)
        return self._client

    @contextlib.contextmanager
    def _boundary(self, operation: str, subject: str) -> Iterator[None]:
        """The one place SDK and transport errors become envkit errors."""
        try:
            yield
        except EnvkitError:
            raise
        except Exception as exc:
            raise translate(exc, self._endpoint, self._timeout_s, f"{operation} {subject}") from exc

    # -- observe ----------------------------------------------------------------------

    def observe(self, desired: DesiredState) -> ObservedState:
        project = desired.project
        with self._boundary("list containers", f"of {project}"):
            raw_containers = self._lists.containers(None)
        with self._boundary("list networks", f"of {project}"):
            raw_networks = self._lists.networks(None)
        with self._boundary("list volumes", f"of {project}"):
            raw_volumes = self._lists.volumes(None)
        return observed_state(
            desired,
            [parse_container(c) for c in raw_containers],
            [parse_network(n) for n in raw_networks],
            [parse_volume(v) for v in raw_volumes],
            self._image_ids({s.image for s in desired.services}),
            bound_on_host if self.is_local else None,
            probe_bind_source if self.is_local else None,
        )

    def _image_ids(self, refs: set[str]) -> dict[str, str | None]:
        if not refs:
            return {}
        with self._boundary("list images", "on the engine"):
            images = self._lists.images()
        return image_ids(images, refs)

    def list_containers(self, labels: Mapping[str, str | None]) -> list[ObservedContainer]:
        with self._boundary("list containers", "with envkit labels"):
            raw = self._lists.containers(label_filters(labels))
        return [parse_container(c) for c in raw]

    def list_networks(self, labels: Mapping[str, str | None]) -> list[ObservedNetwork]:
        """Networks carrying ``labels`` (a None value: the key, with any value)."""
        with self._boundary("list networks", "with envkit labels"):
            raw = self._lists.networks(label_filters(labels))
        return [parse_network(n) for n in raw]

    def list_volumes(self, labels: Mapping[str, str | None]) -> list[ObservedVolume]:
        """Volumes carrying ``labels`` (a None value: the key, with any value)."""
        with self._boundary("list volumes", "with envkit labels"):
            raw = self._lists.volumes(label_filters(labels))
        return [parse_volume(v) for v in raw]

    # -- images: see envkit.engine.docker_images ---------------------------------------

    def image_id(self, ref: str) -> str | None:
        """The local id of an image reference, or None when it is not on the engine."""
        return self._images.image_id(ref)

    def image_info(self, ref: str) -> ImageInfo | None:
        """Id, tags and size of a local image, or None when it is not on the engine."""
        return self._images.image_info(ref)

    def ensure_image(self, spec: ServiceSpec, on_output: OutputCallback | None = None) -> str:
        """Make the service's image present per its pull_policy/build; return its id."""
        return self._images.ensure_image(spec, on_output)

    def pull_due(self, spec: ServiceSpec) -> bool:
        """Whether the pull policy asks for a pull now (always, or a refresh window passed)."""
        return self._images.pull_due(spec)

    def pull_problem(self, ref: str) -> str | None:
        """Why ``ref`` cannot be pulled now, or None (the registry has its manifest)."""
        return self._images.pull_problem(ref)

    def refresh_image(self, spec: ServiceSpec, on_output: OutputCallback | None = None) -> str:
        """Pull ``spec.image`` now (pull_policy always, before planning); return its id."""
        return self._images.refresh_image(spec, on_output)

    def save_images(self, refs: list[str], chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """``docker save REF...`` as one stream of tar bytes."""
        return self._images.save_images(refs, chunk_size)

    def load_images(
        self, data: Iterable[bytes], on_output: OutputCallback | None = None
    ) -> list[str]:
        """``docker load`` from a stream of tar bytes; returns what it loaded."""
        return self._images.load_images(data, on_output)

    def tag_image(self, image: str, ref: str) -> None:
        self._images.tag_image(image, ref)

    def push_image(self, ref: str, on_output: OutputCallback | None = None) -> None:
        """Push with the engine user's registry credentials."""
        self._images.push_image(ref, on_output)

    # -- networks and volumes ----------------------------------------------------------

    def create_network(
        self, name: str, labels: Mapping[str, str], spec: NetworkSpec | None = None
    ) -> None:
        with self._boundary("create network", name):
            if spec is None:
                self._api().create_network(name, driver="bridge", labels=dict(labels))
                return
            from docker.types import IPAMConfig, IPAMPool

            ipam = None
            if spec.ipam_driver or spec.ipam_config:
                ipam = IPAMConfig(
                    driver=spec.ipam_driver or "default",
                    pool_configs=[
                        IPAMPool(subnet=s or None, iprange=r or None, gateway=g or None)
                        for s, r, g in spec.ipam_config
                    ],
                )
            self._api().create_network(
                name,
                driver=spec.driver,
                options=dict(spec.driver_opts) or None,
                ipam=ipam,
                internal=spec.internal,
                labels=dict(labels),
                enable_ipv6=spec.enable_ipv6,
                attachable=spec.attachable,
            )

    def remove_network(self, name: str) -> None:
        try:
            with self._not_found_ok(), self._boundary("remove network", name):
                self._api().remove_network(name)
        except EngineError as exc:
            if "active endpoints" in exc.message:
                exc.code = "network-in-use"
            raise

    def network_endpoints(self, name: str) -> tuple[NetworkEndpoint, ...]:
        """From the network's inspect; whether each endpoint's container exists, from one
        container list."""
        attached: dict[str, Any] = {}
        with self._not_found_ok(), self._boundary("inspect network", name):
            attached = self._api().inspect_network(name).get("Containers") or {}
        if not attached:
            return ()
        with self._boundary("list containers", f"attached to {name}"):
            ids = {c["Id"] for c in self._api().containers(all=True)}
        return tuple(
            NetworkEndpoint(str(key), str((ep or {}).get("Name") or key), key in ids)
            for key, ep in sorted(attached.items())
        )

    def disconnect_network(self, name: str, container: str) -> None:
        with self._not_found_ok(), self._boundary("disconnect", f"{container} from {name}"):
            self._api().disconnect_container_from_network(container, name, force=True)

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
        self,
        desired: DesiredState,
        spec: ServiceSpec,
        replica: int,
        labels: Mapping[str, str],
        carried: tuple[tuple[str, str], ...] = (),
        *,
        name: str | None = None,
        tty: bool = False,
        oneoff: bool = False,
    ) -> str:
        """Create ``{project}-{service}-{replica}`` (or ``name``) on the project network,
        reachable there by its service name (a network alias; not for a ``oneoff``
        container of ``envkit run``, which is attached to instead). The hostname stays
        Docker's default (the short container id) unless the stack sets one, as in
        Compose: replicas of a service would otherwise share a hostname. Anonymous volumes:
        see the protocol (``envkit.engine.base.Engine.create_container``)."""
        name = name or desired.container_of(spec.name, replica)
        api = self._api()
        anonymous = self._anonymous_volumes(spec, name, labels, dict(carried))
        joined = () if spec.network_mode else spec.networks or (ServiceNetwork(DEFAULT_NETWORK),)
        request = create_request(
            api, desired, spec, name, labels, anonymous, joined, tty=tty, oneoff=oneoff
        )
        with self._boundary("create container", name):
            created = send_create(api, spec, request)
        cid = str(created["Id"])
        for extra in joined[1:]:  # the engine takes one network at create (API < 1.44)
            network = desired.network_name(extra.name)
            with self._boundary("connect container", f"{name} to {network}"):
                api.connect_container_to_network(
                    cid,
                    network,
                    aliases=None if oneoff else [spec.name, *extra.aliases],
                    ipv4_address=extra.ipv4_address,
                    links=links(desired, spec) or None,
                )
        return cid

    def rename_container(self, container_id: str, name: str) -> None:
        with self._boundary("rename container", f"{container_id} to {name}"):
            self._api().rename(container_id, name)

    def start_container(self, container_id: str) -> None:
        with self._boundary("start container", container_id):
            self._api().start(container_id)

    def stop_container(self, container_id: str, timeout_s: float) -> None:
        with self._not_found_ok(), self._boundary("stop container", container_id):
            self._api().stop(container_id, timeout=max(0, round(timeout_s)))

    def remove_container(self, container_id: str, *, volumes: bool = False) -> None:
        """Force-remove. ``volumes``: also the anonymous volumes Docker made for it (Docker's
        ``v=True``; envkit's own anonymous volumes are mounted by name and are removed by
        their labels instead, with ``down --volumes``). Another client removing it at the
        same time (a second gc, a down) is fine: done once it is gone."""
        try:
            with self._not_found_ok(), self._boundary("remove container", container_id):
                self._api().remove_container(container_id, v=volumes, force=True)
        except EngineError as exc:
            if exc.code != "engine-conflict" or "already in progress" not in exc.message:
                raise
            self._wait_gone(container_id, exc)

    def _wait_gone(self, container_id: str, conflict: EngineError) -> None:
        deadline = time.monotonic() + _REMOVAL_WAIT_S
        while time.monotonic() < deadline:
            try:
                with self._boundary("inspect container", container_id):
                    self._api().inspect_container(container_id)
            except EngineError as exc:
                if exc.code == "engine-not-found":
                    return
                raise
            time.sleep(0.2)
        raise conflict

    def _anonymous_volumes(
        self,
        spec: ServiceSpec,
        name: str,
        labels: Mapping[str, str],
        carried: Mapping[str, str],
    ) -> dict[str, tuple[str, bool]]:
        """target -> (volume name, read-only) for every anonymous volume of the new
        container: a bare ``/data`` mount of the spec, or a ``VOLUME`` of its image that no
        mount of the spec covers. A ``carried`` volume is reused; any other is created
        here, with the instance's labels and ``io.envkit.anonymous``, so that it can be
        listed, kept by ``down`` and removed by ``down --volumes`` and gc. (Docker would
        make the same volumes without labels.)"""
        import uuid

        try:
            with self._boundary("inspect image", spec.image):
                config = self._api().inspect_image(spec.image).get("Config") or {}
        except ImageNotFound:  # create then fails with its own message
            config = {}
        wanted = anonymous_targets(spec, config)
        keep = (LABEL.STACK, LABEL.ENV, LABEL.PROJECT, LABEL.INSTANCE, LABEL.EXPIRES,
                LABEL.VERSION, LABEL.SERVICE, LABEL.REPLICA)  # fmt: skip
        out: dict[str, tuple[str, bool]] = {}
        for target, read_only in sorted(wanted.items()):
            volume = carried.get(target)
            if volume is None:
                volume = f"{name}_anon-{uuid.uuid4().hex[:12]}"
                own = {k: v for k, v in labels.items() if k in keep}
                self.create_volume(volume, {**own, LABEL.ANONYMOUS: target})
            out[target] = (volume, read_only)
        return out

    def status(self, container_id: str) -> ContainerStatus:
        with self._boundary("inspect container", container_id):
            info = self._api().inspect_container(container_id)
        return parse_status(info)

    def restart_container(self, container_id: str, timeout_s: float) -> None:
        self._containers.restart(container_id, timeout_s)

    def kill_container(self, container_id: str, signal: str = "SIGKILL") -> None:
        self._containers.kill(container_id, signal)

    def pause_container(self, container_id: str) -> None:
        self._containers.pause(container_id)

    def unpause_container(self, container_id: str) -> None:
        self._containers.unpause(container_id)

    def exec_in(
        self,
        container_id: str,
        command: list[str],
        *,
        environment: Mapping[str, str] | None = None,
        user: str | None = None,
        workdir: str | None = None,
    ) -> ExecResult:
        return self._containers.exec_in(container_id, command, environment, user, workdir)

    def top(self, container_id: str) -> Processes:
        return self._containers.top(container_id)

    def events(
        self,
        labels: Mapping[str, str | None],
        since: float | None = None,
        until: float | None = None,
    ) -> Iterator[EngineEvent]:
        return self._containers.events(labels, since, until)

    def stat_path(self, container_id: str, path: str) -> PathStat | None:
        return self._containers.stat_path(container_id, path)

    def read_archive(self, container_id: str, path: str) -> Iterator[bytes]:
        return self._containers.read_archive(container_id, path)

    def write_archive(self, container_id: str, folder: str, data: IO[bytes]) -> None:
        self._containers.write_archive(container_id, folder, data)

    def logs(
        self, container_id: str, tail: int | None = None, options: LogOptions | None = None
    ) -> str:
        return self._containers.logs(container_id, options or LogOptions(tail=tail))

    def follow_logs(self, container_id: str, options: LogOptions | None = None) -> Iterator[bytes]:
        return self._containers.follow_logs(container_id, options or LogOptions())

    def close(self) -> None:
        self._lists.close()
        if self._client is not None:
            self._client.close()
            self._client = None


def _is_an_engine(engine: DockerEngine) -> Engine:
    """Never called: mypy (strict, in CI) proves here that DockerEngine implements every
    protocol of :class:`~envkit.engine.base.Engine`."""
    return engine

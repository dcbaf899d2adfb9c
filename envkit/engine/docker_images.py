"""Image work on a Docker engine: make a service's image present (pull policies, pull,
build), and the bundle operations (inspect, save, load, tag, push).

:class:`DockerImages` is a part of :class:`envkit.engine.docker.DockerEngine`, which hands it
its client and its error boundary: this module does not import the docker SDK, and every
call it makes goes through the engine's one translation of SDK errors.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from envkit.engine.base import ImageInfo
from envkit.engine.docker_json import (
    Json,
    image_tagged_at,
    labels_of,
    parse_image_info,
    split_tag,
)
from envkit.errors import EngineError, EngineUnavailable, EnvkitError, ImageNotFound
from envkit.imagename import registry_of
from envkit.model import BuildSpec, PullPolicy, ServiceSpec

__all__ = [
    "BUILD_LABEL",
    "IMAGE_HINT",
    "PULL_HINT",
    "DockerImages",
    "OutputCallback",
    "build_fingerprint",
]


BUILD_LABEL = "io.envkit.build"


def build_fingerprint(build: BuildSpec) -> str:
    """What a built image is labelled with (``io.envkit.build``): context hash, Dockerfile,
    args and target, and the options that make another image (inline Dockerfile, tags,
    labels, network, shm_size, extra_hosts). The engine reuses a local image only when it
    was built from the same."""
    data: dict[str, Any] = {
        "context_hash": build.context_hash,
        "dockerfile": build.dockerfile,
        "args": [list(a) for a in build.args],
        "target": build.target,
    }
    # What else makes the image (or its tags) differ, only when set: an image built before
    # these options existed keeps its fingerprint and is not rebuilt. no_cache, pull and
    # cache_from change how a build runs, not what it is asked to make.
    extra: dict[str, Any] = {
        "dockerfile_inline": build.dockerfile_inline,
        "tags": list(build.tags) or None,
        "labels": [list(kv) for kv in build.labels] or None,
        "network": build.network,
        "shm_size": build.shm_size,
        "extra_hosts": [list(kv) for kv in build.extra_hosts] or None,
    }
    data.update({k: v for k, v in extra.items() if v is not None})
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


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
# DockerEngine._boundary: (operation, subject) -> a context translating SDK errors
Boundary = Callable[[str, str], AbstractContextManager[None]]
_BUILD_TAIL = 30  # output lines of a failing build step shown in the error


class DockerImages:
    """The image operations of one engine object. ``api`` returns the SDK's connected
    ``APIClient``; ``endpoint`` names the engine in messages."""

    def __init__(self, api: Callable[[], Any], boundary: Boundary, endpoint: str) -> None:
        self._api = api
        self._boundary = boundary
        self._endpoint = endpoint
        # image reference -> id pulled by this engine object (pull_policy always: `up`
        # pulls before planning, and apply does not pull the same reference again)
        self._pulled: dict[str, str] = {}

    def _inspect(self, ref: str) -> Json | None:
        """The inspect JSON of a local image, or None when it is not on the engine."""
        try:
            with self._boundary("inspect image", ref):
                return dict(self._api().inspect_image(ref))
        except EngineError as exc:
            if isinstance(exc, ImageNotFound) or exc.code == "engine-not-found":
                return None
            raise

    def pull_problem(self, ref: str) -> str | None:
        """Why the engine cannot pull ``ref`` now, or None when its registry has the image:
        the engine fetches the manifest (``GET /distribution/REF/json``, credentials as for
        a pull, from the engine user's Docker config) and pulls nothing."""
        try:
            with self._boundary("look up image", f"{ref} in {registry_of(ref)}"):
                self._api().inspect_distribution(ref)
        except EngineUnavailable:
            raise
        except EngineError as exc:
            return exc.message
        return None

    def image_id(self, ref: str) -> str | None:
        """The local id of an image reference, or None when it is not on the engine."""
        info = self._inspect(ref)
        return None if info is None else str(info["Id"])

    def image_info(self, ref: str) -> ImageInfo | None:
        """Id, tags and size of a local image, or None when it is not on the engine."""
        info = self._inspect(ref)
        return None if info is None else parse_image_info(info)

    # -- making a service's image present ------------------------------------------------

    def ensure_image(self, spec: ServiceSpec, on_output: OutputCallback | None = None) -> str:
        """Make the service's image present; return its id. Compose's pull policies:

        - ``always``: pull (once per engine object: ``up`` pulls before planning, see
          :meth:`refresh_image`, and apply does not pull the same reference again);
        - ``missing`` (default): use the local image; without one, build when the service
          has ``build:``, else pull. With ``build:``, a local image counts only when it was
          built from the same context, Dockerfile, args and target (its ``io.envkit.build``
          label), so a changed context rebuilds;
        - ``never``: the local image or an error; ``build``: always build;
        - ``daily``, ``weekly``, ``every_<duration>`` (``refresh``): the local image while
          it was last tagged less than that long ago (:meth:`pull_due`), else pull.
        """

        ref = spec.image
        policy = spec.pull_policy
        if policy is PullPolicy.REFRESH:
            local = self._inspect(ref)
            if local is not None and not self._due(spec, local):
                return str(local["Id"])
            return self._pull(spec, on_output, missing_locally=local is None)
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
        local = self._inspect(ref)
        if spec.build is not None and policy is PullPolicy.MISSING:
            built = labels_of(local.get("Config") or {}) if local is not None else {}
            if local is not None and built.get(BUILD_LABEL) == build_fingerprint(spec.build):
                for tag in spec.build.tags:  # a tag removed since the build is put back
                    if self.image_id(tag) != local["Id"]:
                        self.tag_image(str(local["Id"]), tag)
                return str(local["Id"])
            return self._build(spec, on_output)
        if local is not None:
            return str(local["Id"])
        if policy is PullPolicy.NEVER:
            raise ImageNotFound(
                f"service {spec.name}: image {ref!r} is not on the local engine "
                f"({self._endpoint}) and its pull_policy is 'never'",
                hint=IMAGE_HINT,
                origin=spec.origin,
            )
        return self._pull(spec, on_output, missing_locally=True)

    def pull_due(self, spec: ServiceSpec) -> bool:
        """Whether ``spec``'s pull policy asks for a pull now: ``always``; or ``daily``,
        ``weekly``, ``every_<duration>`` when the local image is missing or was last tagged
        longer ago than that (as docker/compose decides, from ``LastTagTime``)."""
        if spec.pull_policy is PullPolicy.ALWAYS:
            return True
        if spec.pull_policy is not PullPolicy.REFRESH:
            return False
        local = self._inspect(spec.image)
        return local is None or self._due(spec, local)

    @staticmethod
    def _due(spec: ServiceSpec, local: Json) -> bool:
        tagged = image_tagged_at(local)
        window = spec.pull_refresh_s or 0.0
        return tagged is None or time.time() - tagged >= window

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
        registry = registry_of(ref)
        where = f" (it is not on the local engine, {self._endpoint})" if missing_locally else ""
        repo, tag = split_tag(ref)

        def failed(exc: EngineError) -> EnvkitError:
            return ImageNotFound(
                f"service {spec.name}: cannot pull {ref!r} from {registry}{where}: {exc.message}",
                hint=PULL_HINT,
                origin=spec.origin,
                code="pull-failed",
            )

        # No auth_config: the SDK reads the engine user's ~/.docker/config.json
        # (DOCKER_CONFIG), as `docker pull` does.
        self._registry_stream(
            "pull image",
            ref,
            lambda: self._api().pull(
                repo, tag=tag, stream=True, decode=True, platform=spec.options.platform
            ),
            on_output,
            progress=True,
            failed=failed,
        )
        found = self.image_id(ref)
        if found is None:
            raise ImageNotFound(
                f"service {spec.name}: pulled {ref!r} from {registry} but the engine does not "
                "have it afterwards",
                hint=IMAGE_HINT,
                origin=spec.origin,
            )
        if spec.pull_policy is PullPolicy.REFRESH:
            # The engine sets LastTagTime when it tags an image, and a pull of an image
            # it already has may set nothing: tagging it with its own reference records
            # this pull where the next `up` (any user's, or docker compose's) reads it.
            self.tag_image(found, ref)
        self._pulled[ref] = found
        return found

    def _build(self, spec: ServiceSpec, on_output: OutputCallback | None) -> str:
        """Build with the engine's (legacy) builder, labelled with the build fingerprint,
        then tag it with ``build.tags``. A ``dockerfile_inline`` is written to a private
        temporary file outside the context, which the SDK sends inside the context's tar
        (as it does for any Dockerfile outside the context). Output lines go to
        ``on_output``; a failure names the failing step and its output."""
        build = spec.build
        assert build is not None
        if build.dockerfile_inline is None:
            found = self._run_build(spec, build, build.dockerfile, on_output)
        else:
            with tempfile.TemporaryDirectory(prefix="envkit-build-") as folder:
                path = os.path.join(folder, "Dockerfile")
                with open(path, "x", encoding="utf-8") as f:
                    f.write(build.dockerfile_inline)
                found = self._run_build(spec, build, path, on_output)
        for tag in build.tags:
            self.tag_image(found, tag)
        return found

    def _run_build(
        self,
        spec: ServiceSpec,
        build: BuildSpec,
        dockerfile: str,
        on_output: OutputCallback | None,
    ) -> str:
        shown = build.dockerfile if build.dockerfile_inline is None else "dockerfile_inline"
        step = ""  # the last "Step N/M : ..." line
        step_output: list[str] = []
        with self._boundary("build image", f"{spec.image} for service {spec.name}"):
            stream = self._api().build(
                path=build.context,
                dockerfile=dockerfile,
                tag=spec.image,
                buildargs=dict(build.args) or None,
                target=build.target,
                labels={**dict(build.labels), BUILD_LABEL: build_fingerprint(build)},
                network_mode=build.network,
                shmsize=build.shm_size,
                extra_hosts=dict(build.extra_hosts) or None,
                cache_from=list(build.cache_from) or None,
                nocache=build.no_cache,
                pull=build.pull,
                rm=True,
                forcerm=True,
                decode=True,
            )
            for event in stream:
                if "error" in event:
                    raise EngineError(
                        f"building {spec.image} for service {spec.name} failed: "
                        f"{str(event['error']).strip()}",
                        code="build-failed",
                        origin=spec.origin,
                        detail=_failing_step(step, step_output),
                        hint=f"fix that step of {shown} or the context {build.context}",
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

    # -- bundles: save, load, tag, push --------------------------------------------------

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
        # quiet: no per-layer progress, which the engine would write while the stream is
        # still being sent (`docker load` asks the same when its output is not a terminal)
        with self._boundary("load images", "from the bundle"):
            for event in self._api().load_image(data=iter(data), quiet=True):
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
        repo, tag = split_tag(ref)
        with self._boundary("tag image", f"{image} as {ref}"):
            self._api().tag(image, repo, tag=tag)

    def push_image(self, ref: str, on_output: OutputCallback | None = None) -> None:
        """Push with the engine user's registry credentials (the SDK reads the docker
        config file, as `docker push` does)."""
        repo, tag = split_tag(ref)
        registry = registry_of(ref)

        def failed(exc: EngineError) -> EnvkitError:
            return EngineError(
                f"cannot push {ref} to {registry}: {exc.message}",
                code="push-failed",
                hint=f"check that the registry {registry} runs and answers (a registry on "
                "127.0.0.0/8 may use plain http; any other needs TLS or the engine's "
                "insecure-registries), and `docker login` it if it needs credentials",
            )

        self._registry_stream(
            "push image",
            ref,
            lambda: self._api().push(repo, tag=tag, stream=True, decode=True),
            on_output,
            progress=False,
            failed=failed,
        )

    def _registry_stream(
        self,
        operation: str,
        ref: str,
        events: Callable[[], Iterable[Json]],
        on_output: OutputCallback | None,
        *,
        progress: bool,
        failed: Callable[[EngineError], EnvkitError],
    ) -> None:
        """Follow a pull's or a push's event stream to its end, passing ``ID STATUS``
        lines (with the progress bar when ``progress``) to ``on_output``. An error event, or
        any engine error but an unreachable engine, becomes ``failed(error)``."""
        try:
            with self._boundary(operation, ref):
                for event in events():
                    if "error" in event:
                        raise EngineError(str(event["error"]))
                    if on_output is not None and event.get("status"):
                        line = f"{event.get('id', '')} {event['status']}"
                        if progress:
                            line += f" {event.get('progress') or ''}"
                        on_output(line.strip())
        except EngineUnavailable:
            raise
        except EngineError as exc:
            raise failed(exc) from exc


def _failing_step(step: str, step_output: list[str]) -> str | None:
    """A failed build's detail: the failing step and the tail of its output."""
    if not step:
        return None
    detail = f"  failing step: {step}"
    shown = step_output[-_BUILD_TAIL:]
    if shown:
        cut = len(step_output) - len(shown)
        more = f"  (last {len(shown)} of {len(step_output)} lines)" if cut else ""
        detail += f"\n  its output{more}:\n" + "\n".join(f"    {line}" for line in shown)
    return detail

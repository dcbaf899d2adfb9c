"""The one place where the docker SDK's and the transport's exceptions become envkit
errors (:func:`translate`), used by :meth:`envkit.engine.docker.DockerEngine._boundary`."""

from __future__ import annotations

from envkit.engine.docker_connect import remote_failure, unreachable_hint
from envkit.engine.docker_images import IMAGE_HINT
from envkit.engine.endpoint import EngineEndpoint
from envkit.errors import EngineError, EngineUnavailable, EnvkitError, ImageNotFound

__all__ = ["START_HINT", "exception_chain", "translate"]

START_HINT = (
    "start the engine (as root: `scripts/engine-up.sh`, `systemctl start docker`, or "
    "`nohup dockerd >/var/log/dockerd.log 2>&1 &`), or point DOCKER_HOST at one that runs"
)


def translate(
    exc: Exception, endpoint: EngineEndpoint, timeout_s: float, doing: str
) -> EnvkitError:
    """The envkit error for an SDK or transport exception raised while ``doing`` ("create
    container web-1"): permission, unreachable or remote-transport failures, timeouts,
    a missing image, then the engine's own refusal with its HTTP status as the code."""
    chain = exception_chain(exc)
    if any(isinstance(e, PermissionError) for e in chain):
        return EngineUnavailable(
            f"permission denied on {endpoint.display} (while trying to {doing})",
            hint="add your user to the docker group (`sudo usermod -aG docker $USER`, "
            "then log in again) or run envkit as root",
            code="engine-permission-denied",
        )
    names = {type(e).__name__ for e in chain}
    remote = remote_failure(endpoint, chain, names)
    if remote is not None:
        return remote
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is None and (
        names & {"ConnectionError", "NewConnectionError", "ProtocolError", "ConnectTimeout"}
        or any(isinstance(e, ConnectionRefusedError | FileNotFoundError) for e in chain)
    ):
        return EngineUnavailable(
            f"no Docker engine answers at {endpoint.display} (while trying to {doing})",
            hint=START_HINT if endpoint.is_local else unreachable_hint(endpoint),
        )
    if names & {"ReadTimeout", "Timeout", "ConnectTimeout"} or any(
        isinstance(e, TimeoutError) for e in chain
    ):
        return EngineError(
            f"the Docker engine at {endpoint.display} did not answer in time "
            f"({timeout_s:g}s) to {doing}",
            hint="the engine is overloaded or stuck; check `docker info` and its log",
            code="engine-timeout",
        )
    explanation = str(getattr(exc, "explanation", None) or exc)
    if type(exc).__name__ == "ImageNotFound":
        return ImageNotFound(f"cannot {doing}: {explanation}", hint=IMAGE_HINT)
    code = {404: "engine-not-found", 409: "engine-conflict"}.get(status or 0, "engine-error")
    return EngineError(f"cannot {doing}: {explanation}", code=code)


def exception_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception behind it (cause, context, wrapped in args), once each."""
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

"""DockerEngine.remove_container when another client is removing the same container (two
gcs, a gc and a down): Docker answers 409 "removal ... already in progress"; the removal
succeeds once the container is gone, and fails if it never goes. Replayed through the SDK's
own exception types on a stub client, no engine needed."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from envkit.engine import docker as docker_module
from envkit.engine.docker import DockerEngine
from envkit.errors import EngineError


class Response:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code
        self.reason = "stub"
        self.url = "http+docker://localhost/containers/abc"


class RemovalInProgress:
    """An APIClient on which someone else's removal of ``abc`` ends after ``inspects``."""

    def __init__(self, inspects: int) -> None:
        self.inspects_left = inspects
        self.calls: list[str] = []

    def remove_container(self, container_id: str, **kw: Any) -> None:
        self.calls.append("remove")
        raise docker.errors.APIError(
            "409 Client Error: Conflict",
            response=Response(409),
            explanation=f"removal of container {container_id} is already in progress",
        )

    def inspect_container(self, container_id: str) -> dict[str, Any]:
        self.calls.append("inspect")
        if self.inspects_left <= 0:
            raise docker.errors.NotFound(
                "404 Client Error", response=Response(404), explanation="No such container"
            )
        self.inspects_left -= 1
        return {"Id": container_id}


def engine_on(client: RemovalInProgress) -> DockerEngine:
    eng = DockerEngine()
    eng._client = client
    return eng


def test_a_removal_in_progress_elsewhere_succeeds_once_the_container_is_gone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(docker_module.time, "sleep", lambda s: None)
    client = RemovalInProgress(inspects=3)
    engine_on(client).remove_container("abc")
    assert client.calls == ["remove", "inspect", "inspect", "inspect", "inspect"]


def test_a_removal_that_never_ends_is_the_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(docker_module, "_REMOVAL_WAIT_S", 0.05)
    client = RemovalInProgress(inspects=10**9)
    with pytest.raises(EngineError) as info:
        engine_on(client).remove_container("abc")
    assert info.value.code == "engine-conflict"
    assert "already in progress" in info.value.message

"""Compose's refresh pull policies (daily, weekly, every_<duration>): read, printed back,
and decided from when the local image was last tagged (the engine's LastTagTime)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envkit.canonical import spec_hash
from envkit.cli.commands.config import compose_document
from envkit.engine.docker_json import image_tagged_at
from envkit.engine.fake import FakeEngine
from envkit.model import DesiredState, PullPolicy, ServiceSpec, pull_policy_text
from envkit.progress import NullReporter
from envkit.reconcile.verbs import refresh_images
from envkit.stackfile import read, resolve


@pytest.mark.parametrize(
    ("written", "seconds", "printed"),
    [
        ("daily", 86400.0, "daily"),
        ("weekly", 604800.0, "weekly"),
        ("every_12h", 43200.0, "every_12h"),
        ("every_1h30m", 5400.0, "every_1h30m"),
        ("every_90s", 90.0, "every_1m30s"),
        ("every_500ms", 0.5, "every_500ms"),
    ],
)
def test_refresh_policies_are_read_and_printed_back(
    tmp_path: Path, written: str, seconds: float, printed: str
) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(f"services:\n  app: {{image: x, pull_policy: {written}}}\n")
    desired = resolve(read(path), "default", environ={}).desired
    svc = desired.services[0]
    assert (svc.pull_policy, svc.pull_refresh_s) == (PullPolicy.REFRESH, seconds)
    assert pull_policy_text(svc) == printed
    assert compose_document(desired)["services"]["app"]["pull_policy"] == printed


def test_the_policy_is_not_part_of_the_container() -> None:
    """How an image is obtained changes no spec hash (as in Compose's config hash)."""
    plain = ServiceSpec("app", "x")
    daily = ServiceSpec("app", "x", pull_policy=PullPolicy.REFRESH, pull_refresh_s=86400.0)
    assert spec_hash(plain) == spec_hash(daily)


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"LastTagTime": "2026-12-01T17:42:35.981117235Z"}, 1796146955.981117235),
        ({"LastTagTime": "2026-12-01T18:42:35+01:00"}, 1796146955.0),
        ({"LastTagTime": "0001-01-01T00:00:00Z"}, None),  # never tagged
        ({}, None),
        ({"LastTagTime": "yesterday"}, None),
    ],
)
def test_last_tag_time_is_read(metadata: dict[str, str], expected: float | None) -> None:
    found = image_tagged_at({"Metadata": metadata})
    assert found == (None if expected is None else pytest.approx(expected, abs=1e-6))


def _desired(window: float) -> DesiredState:
    svc = ServiceSpec("app", "app:1", pull_policy=PullPolicy.REFRESH, pull_refresh_s=window)
    return DesiredState("s", "dev", None, (svc,))


def test_an_image_tagged_within_the_window_is_not_pulled() -> None:
    engine = FakeEngine({"app:1": "sha256:old"}, registry={"app:1": "sha256:new"})
    now = [1000.0]
    engine.clock = lambda: now[0]
    engine.tagged_at["app:1"] = 1000.0
    desired = _desired(3600.0)
    now[0] = 1000.0 + 3599
    refresh_images(desired, engine, NullReporter())
    assert engine.ensure_image(desired.services[0]) == "sha256:old"
    assert ("pull", "app:1") not in engine.calls
    now[0] = 1000.0 + 3600  # the window has passed: pulled before planning
    refresh_images(desired, engine, NullReporter())
    assert engine.calls.count(("pull", "app:1")) == 1
    assert engine.ensure_image(desired.services[0]) == "sha256:new"
    assert engine.calls.count(("pull", "app:1")) == 1  # just pulled: not again


def test_a_missing_image_is_pulled() -> None:
    engine = FakeEngine(registry={"app:1": "sha256:new"})
    assert engine.pull_due(_desired(86400.0).services[0])
    assert engine.ensure_image(_desired(86400.0).services[0]) == "sha256:new"


def test_a_version_1_container_is_kept_when_the_policy_becomes_daily() -> None:
    from envkit.reconcile.legacy import spec_hash_v1

    daily = ServiceSpec("app", "x", pull_policy=PullPolicy.REFRESH, pull_refresh_s=86400.0)
    assert spec_hash_v1(daily) == spec_hash_v1(ServiceSpec("app", "x"))

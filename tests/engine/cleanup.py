"""Removing what a test made, by label, even when the test failed half-way."""

from __future__ import annotations

import contextlib
from typing import Any

import docker

__all__ = ["labelled_names", "remove_labelled"]


def labelled_names(client: Any, selector: str) -> list[str]:
    """Names of every container, network and volume carrying the label ``KEY=VALUE``
    (low-level lists, so an object going meanwhile does not fail the call)."""
    api = client.api
    f = {"label": selector}
    return (
        [str(c["Names"][0]).lstrip("/") for c in api.containers(all=True, filters=f)]
        + [str(n["Name"]) for n in api.networks(filters=f)]
        + [str(v["Name"]) for v in api.volumes(filters=f).get("Volumes") or []]
    )


def remove_labelled(client: Any, *selectors: str) -> None:
    """Remove every container, then network, then volume carrying one of the labels
    ``KEY=VALUE`` in ``selectors``. Uses the low-level list calls: the SDK's high-level
    ``list()`` inspects each object and fails when one goes between the two calls."""
    api = client.api
    filters = [{"label": s} for s in selectors]
    for f in filters:
        for raw in api.containers(all=True, filters=f):
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_container(raw["Id"], force=True, v=True)
    for f in filters:
        for raw in api.networks(filters=f):
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_network(raw["Id"])
    for f in filters:
        for raw in api.volumes(filters=f).get("Volumes") or []:
            with contextlib.suppress(docker.errors.NotFound):
                api.remove_volume(raw["Name"], force=True)

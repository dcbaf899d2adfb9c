"""Pin a Swarm stack's images by registry digest, so every node runs the same bits.

A tag can move between two nodes' pulls; ``docker stack deploy`` (``--resolve-image
always``) therefore sends ``image:tag@sha256:...`` in the service spec, and so does envkit:
the shell asks the manager for each image's digest (``ServiceOrchestrator.image_digests``),
and :func:`pin_images` (pure) writes it into the services' images. The digest is then part
of the task half of the canonical spec, so when a tag moves, ``plan`` shows a rolling update
with the digest change (``image: "reg/app:1@sha256:aaa..." -> "reg/app:1@sha256:bbb..."``).

An image no registry answers for (never pushed, loaded with ``envkit bundle load`` onto each
node, no internet for Docker Hub) stays as written. A service already running a pinned image
whose registry does not answer now keeps the digest it runs, with a note: a registry that
is down for a moment must not roll every service back to a bare tag.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from envkit.engine.swarm_base import ObservedSwarm
from envkit.swarm_model import SwarmService, SwarmStack

__all__ = ["Pinned", "pin_images", "pinned", "unpinned_refs"]


@dataclass(frozen=True, slots=True)
class Pinned:
    stack: SwarmStack
    notes: tuple[str, ...] = ()  # one line per image kept at the digest it runs


def unpinned_refs(stack: SwarmStack, observed: ObservedSwarm | None = None) -> list[str]:
    """The image references to resolve: each once, those without a digest already. With
    ``resolve_image: changed`` (and ``observed``), not those every service using them
    already runs pinned: their digest is kept without asking the registry. With
    ``never``, none."""
    out: list[str] = []
    if stack.resolve_image == "never":
        return out
    for svc in stack.services:
        ref = svc.spec.image
        if not ref or "@" in ref or ref in out:
            continue
        if stack.resolve_image == "changed" and observed is not None:
            users = [s for s in stack.services if s.spec.image == ref]
            if all(_running_digest(observed, s, ref) is not None for s in users):
                continue
        out.append(ref)
    return out


def _running_digest(observed: ObservedSwarm, svc: SwarmService, ref: str) -> str | None:
    """The digest the observed service runs ``ref`` at (None: not pinned, or another image)."""
    for o in observed.services:
        if o.service != svc.name:
            continue
        image = ((o.engine_spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get(
            "Image", ""
        )
        name, at, digest = str(image).partition("@")
        if at and name == ref and digest.startswith("sha256:"):
            return digest
    return None


def pin_images(
    stack: SwarmStack, digests: Mapping[str, str | None], observed: ObservedSwarm
) -> Pinned:
    """``stack`` with each service's image as ``ref@digest`` where ``digests`` has one for
    ``ref``, else the digest the running service already has (with a note, unless
    ``resolve_image: changed`` chose not to ask), else as is. ``never``: as is."""
    if stack.resolve_image == "never":
        return Pinned(stack)
    services: list[SwarmService] = []
    notes: list[str] = []
    for svc in stack.services:
        ref = svc.spec.image
        digest = digests.get(ref) if ref and "@" not in ref else None
        if digest is None and ref and "@" not in ref:
            digest = _running_digest(observed, svc, ref)
            if digest is not None and ref in digests:  # asked, and no registry answered
                notes.append(
                    f"{svc.name}: no registry answered for {ref}; keeping the digest it runs "
                    f"({digest[:19]})"
                )
        if digest is None:
            services.append(svc)
            continue
        spec = dataclasses.replace(svc.spec, image=f"{ref}@{digest}")
        services.append(dataclasses.replace(svc, spec=spec))
    return Pinned(dataclasses.replace(stack, services=tuple(services)), tuple(notes))


def pinned(
    resolve: Callable[[list[str]], dict[str, str | None]],
    stack: SwarmStack,
    observed: ObservedSwarm,
) -> Pinned:
    """Resolve ``stack``'s unpinned images with ``resolve`` (the engine's
    ``image_digests``) and pin them."""
    refs = unpinned_refs(stack, observed)
    return pin_images(stack, resolve(refs) if refs else {}, observed)

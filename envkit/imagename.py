"""Image references as people write them: which registry a reference names.

Shared by the stack-file side (registry rewrite, ``envkit.stackfile.imageref``) and the
engine (messages about pulls and pushes), so both name a registry the same way.
"""

from __future__ import annotations

__all__ = ["HUB", "registry_of", "split_registry"]

HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")


def split_registry(ref: str) -> tuple[str | None, str]:
    """``127.0.0.1:5000/a/b:1`` -> (``127.0.0.1:5000``, ``a/b:1``); ``busybox`` -> (None, ...)."""
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return None, ref


def registry_of(ref: str) -> str:
    """The registry an image reference is pulled from, as a person would name it."""
    host, _ = split_registry(ref)
    return "docker.io (Docker Hub)" if host is None or host in HUB else host

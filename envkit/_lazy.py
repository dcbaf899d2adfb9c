"""Lazy re-exports for package ``__init__`` modules (PEP 562).

A package names its public API once; each name is imported from its module on first use,
so importing ``envkit.stackfile`` to reach one function does not import the whole package,
and ``import envkit`` stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, names: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for ``package``: ``names`` maps each public name to
    the module that defines it; a resolved name is cached in the package's ``namespace``."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        """The public API only: ``__all__`` (not ``annotations``, ``TYPE_CHECKING`` or
        the helpers the package module itself imports)."""
        public = namespace.get("__all__")
        return sorted(public) if isinstance(public, list | tuple) else sorted(names)

    return __getattr__, __dir__

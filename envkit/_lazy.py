"""Lazy re-exports for package ``__init__`` modules (PEP 562), and deferred imports.

A package names its public API once; each name is imported from its module on first use,
so importing ``envkit.stackfile`` to reach one function does not import the whole package,
and ``import envkit`` stays cheap.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import types
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any

__all__ = ["defer_import", "lazy_exports"]


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


_DEFER_LOCK = threading.Lock()


class _Deferred(types.ModuleType):
    """Stands in ``sys.modules`` for a module not yet imported; the first attribute it
    lacks imports the real module (which then replaces it there) and is read from it.
    Its ``__spec__`` is a plain attribute, so ``import name`` (which reads it) does not
    load anything: that is why this is not ``importlib.util.LazyLoader``."""

    def __getattr__(self, attr: str) -> Any:
        return getattr(_load(self.__name__, self), attr)


def _load(name: str, stub: types.ModuleType) -> types.ModuleType:
    with _DEFER_LOCK:
        if sys.modules.get(name) is stub:
            del sys.modules[name]
        return import_module(name)


def defer_import(name: str, *, version_file: str | None = None) -> None:
    """Make ``import name`` cheap until the module is used: put a stand-in for it in
    ``sys.modules`` that imports the real one on its first use. Nothing when it is
    imported already or not installed (then ``import`` fails as it would have). A package's
    stand-in has the package's ``__path__``, so ``from name import x`` reads ``x`` from it
    (loading the real package unless the stand-in answers ``x`` itself).

    ``version_file``: the stand-in answers ``__version__`` itself, read (not imported) from
    this file of the package, for an importer that checks the version at import time; a
    file that does not say it as a plain string literal means nothing is deferred.

    For paramiko: the docker SDK imports it at import time for its ssh transport, which
    costs about as much as the rest of the SDK (with cryptography, nacl and invoke), and
    only an ``ssh://`` endpoint uses it; the SDK touches it only inside the ssh adapter's
    methods, so for a local socket or tcp it is never imported."""
    with _DEFER_LOCK:
        if name in sys.modules:
            return
        spec = importlib.util.find_spec(name)
        if spec is None:
            return
        stub = _Deferred(name)
        stub.__spec__ = spec
        if spec.submodule_search_locations is not None:
            stub.__path__ = list(spec.submodule_search_locations)
        if version_file is not None:
            version = _version_in(stub, version_file)
            if version is None:
                return
            setattr(stub, "__version__", version)  # noqa: B010 (a module attribute mypy cannot see)
        sys.modules[name] = stub


def _version_in(package: types.ModuleType, filename: str) -> str | None:
    """``__version__ = "1.2.3"`` as written in ``filename`` of ``package``, or None."""
    import re

    for folder in getattr(package, "__path__", ()):
        try:
            with open(os.path.join(folder, filename), encoding="utf-8") as f:
                text = f.read(64 * 1024)
        except OSError:
            continue
        found = re.search(r"^__version__\s*=\s*([\"'])([\w.+-]+)\1\s*$", text, re.MULTILINE)
        return found.group(2) if found else None
    return None

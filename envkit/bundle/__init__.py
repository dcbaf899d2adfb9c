"""Bundles: an environment's images, stack file and manifest in one verified file, for
networks with no internet (``envkit bundle save/load/inspect/push``).

The format is described in :mod:`envkit.bundle.format`; compression in
:mod:`envkit.bundle.streams`; writing in :mod:`envkit.bundle.save` (where:
:mod:`envkit.outputfile`; secrets: :mod:`envkit.bundle.secretfiles`); verifying in
:mod:`envkit.bundle.read` (limits: :mod:`envkit.bundle.limits`; docker's own archive:
:mod:`envkit.bundle.dockerarchive`); loading, extracting and pushing in
:mod:`envkit.bundle.load`.
"""

from __future__ import annotations

from envkit.bundle.format import FORMAT_VERSION, BundleError, Manifest
from envkit.bundle.limits import Limits
from envkit.bundle.load import (
    extract_stack,
    load_bundle,
    load_onto_engines,
    open_bundle,
    push_bundle,
    verify_and_load,
)
from envkit.bundle.read import Verified, verify_bundle
from envkit.bundle.save import SaveResult, default_name, save_bundle

__all__ = [
    "FORMAT_VERSION",
    "BundleError",
    "Limits",
    "Manifest",
    "SaveResult",
    "Verified",
    "default_name",
    "extract_stack",
    "load_bundle",
    "load_onto_engines",
    "open_bundle",
    "push_bundle",
    "save_bundle",
    "verify_and_load",
    "verify_bundle",
]

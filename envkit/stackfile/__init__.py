"""The front half of the pipeline: bytes on disk -> the desired state of one environment.

::

    document.py   read the file: size, encoding, YAML -> tree + source map (yamltree, yamlcore)
    schema.py     JSON Schema validation, every error located, in plain English
    checks.py     cross-references: depends_on, cycles, volumes, duplicate host ports
    render.py     one environment: variable layers, overrides (envfiles, templating)
    normalize.py  rendered tree -> frozen model (servicefields, treereader, syntax)
    instances.py  instance ids, ephemeral ports; imageref.py, buildcontext.py: images
    enginesetting.py  an environment's engine: (address or context, TLS files checked)
    pipeline.py   read() and resolve(): the stages above in order

Nothing here imports the engine side (``envkit.reconcile``, ``envkit.engine``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from envkit._lazy import lazy_exports

if TYPE_CHECKING:
    from envkit.stackfile.document import Document
    from envkit.stackfile.pipeline import DEFAULT_FILE, Resolved, environments, read, resolve
    from envkit.stackfile.rendered import Rendered

__all__ = ["DEFAULT_FILE", "Document", "Rendered", "Resolved", "environments", "read", "resolve"]

_EXPORTS = {
    "DEFAULT_FILE": "envkit.stackfile.pipeline",
    "Document": "envkit.stackfile.document",
    "Rendered": "envkit.stackfile.render",
    "Resolved": "envkit.stackfile.pipeline",
    "environments": "envkit.stackfile.pipeline",
    "read": "envkit.stackfile.pipeline",
    "resolve": "envkit.stackfile.pipeline",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

"""An environment's ``engine:`` setting: which Docker engine the environment lives on.

Two spellings (the schema allows both; the mapping form is the one that grows, e.g. a Swarm
setting)::

    engine: ssh://deploy@build-box          # an address, or a docker context name
    engine:
      host: tcp://10.0.0.5:2376             # or  context: NAME
      tls: {ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem}

The value is literal (not templated): it decides where the environment is before anything is
rendered. TLS files are relative to the stack file and must be regular files (a symlink to
one is fine; a FIFO, device or folder is refused, and so is a file over 1 MiB), checked here
so that a wrong path is a located error, not a TLS failure at connect time. Only the shape
of an address is checked here; ``envkit.engine.endpoint`` parses it when the engine is made.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlsplit

from envkit.errors import Diagnostic, DocPath, StackError
from envkit.model import EngineSetting
from envkit.stackfile.dialect import environment_def
from envkit.stackfile.document import Document

ResolveImage = Literal["always", "changed", "never"]

__all__ = ["ResolveImage", "engine_setting", "swarm_manager", "swarm_resolve_image"]

_Fail = Callable[[str, str, DocPath, str], None]
_CONTEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
_SCHEMES = ("unix", "tcp", "ssh")
_TLS_FILE_LIMIT = 1 << 20  # a PEM certificate or key is a few KiB
_ADDRESS_HINT = (
    "write an address (unix:///var/run/docker.sock, tcp://HOST:2376, ssh://USER@HOST) or the "
    "name of a docker context (`docker context ls`)"
)


def engine_setting(doc: Document, environment: str) -> EngineSetting | None:
    """The engine ``environment`` names in ``doc``, or None for the default engine; a
    StackError lists every problem with the setting, located."""
    envs = doc.data.get("environments")
    env_def = envs.get(environment) if isinstance(envs, dict) else None
    if not isinstance(env_def, dict) or env_def.get("engine") is None:
        return None
    at: DocPath = ("environments", environment, "engine")
    raw = env_def["engine"]
    problems: list[Diagnostic] = []
    origin = doc.origin(at)
    where = f"environment {environment}" + (f" at {origin}" if origin else "")

    def fail(code: str, message: str, path: DocPath, hint: str) -> None:
        problems.append(Diagnostic(code, message, path, doc.origin(path), hint))

    if isinstance(raw, str):
        setting = _address_or_context(raw, at, fail, where)
    elif isinstance(raw, dict):
        setting = _mapping(doc, raw, at, fail, where)
    else:
        fail("invalid-engine", "must be an address, a context name or a mapping", at, _ADDRESS_HINT)
        setting = None
    if problems:
        raise StackError(problems)
    return setting


def swarm_manager(doc: Document, environment: str) -> str | None:
    """The Swarm manager ``environment`` names (``engine: {swarm: ADDRESS}``), or None when
    it lives on a container engine."""
    engine = environment_def(doc.data, environment).get("engine")
    if isinstance(engine, dict) and isinstance(engine.get("swarm"), str):
        return str(engine["swarm"])
    return None


def swarm_resolve_image(data: Mapping[str, Any], environment: str) -> ResolveImage:
    """How a Swarm environment pins its images (``engine: {swarm: ..., resolve_image:}``,
    as ``docker stack deploy --resolve-image``): ``always`` (the default) asks the
    registry at every deploy, ``changed`` only for an image whose reference changed,
    ``never`` sends the references as written. ``data``: the stack document's data."""
    engine = environment_def(data, environment).get("engine")
    mode = engine.get("resolve_image") if isinstance(engine, dict) else None
    return mode if mode in ("changed", "never") else "always"


def _address_or_context(text: str, at: DocPath, fail: _Fail, where: str) -> EngineSetting | None:
    if "://" in text or text.startswith("/"):
        if _check_address(text, at, fail):
            return EngineSetting(address=text.strip(), where=where)
        return None
    if not _CONTEXT.match(text):
        fail(
            "invalid-engine",
            f"{text!r} is neither an engine address nor a context name",
            at,
            _ADDRESS_HINT,
        )
        return None
    return EngineSetting(context=text, where=where)


def _check_address(text: str, at: DocPath, fail: _Fail) -> bool:
    value = text.strip()
    if value.startswith("/"):
        value = "unix://" + value
    scheme, _, rest = value.partition("://")
    scheme = scheme.lower()
    if scheme not in _SCHEMES:
        fail(
            "invalid-engine",
            f"the scheme {scheme + '://'!r} is not one envkit can use",
            at,
            _ADDRESS_HINT,
        )
        return False
    if scheme == "unix":
        if not rest.strip("/"):
            fail("invalid-engine", "the unix:// address names no socket", at, _ADDRESS_HINT)
            return False
        return True
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        # Never quote the value: it may carry a user name and password.
        fail("invalid-engine", f"the {scheme}:// address has a bad port", at, _ADDRESS_HINT)
        return False
    if not parts.hostname:
        fail("invalid-engine", f"the {scheme}:// address names no host", at, _ADDRESS_HINT)
        return False
    if parts.password is not None:
        fail(
            "engine-password",
            f"the {scheme}:// address carries a password (not shown)",
            at,
            "never put a password in the stack file: use an ssh key (ssh-agent, or "
            "IdentityFile in ~/.ssh/config) and write ssh://USER@HOST",
        )
        return False
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        fail(
            "invalid-engine",
            f"the {scheme}:// address has a path, query or fragment",
            at,
            _ADDRESS_HINT,
        )
        return False
    return True


def _mapping(
    doc: Document, raw: dict[str, Any], at: DocPath, fail: _Fail, where: str
) -> EngineSetting | None:
    host, context, tls = raw.get("host"), raw.get("context"), raw.get("tls")
    if "swarm" in raw:
        if set(raw) - {"swarm", "resolve_image"}:
            fail(
                "invalid-engine",
                "swarm: names a Swarm manager on its own (no host, context or tls beside it)",
                at,
                "engine: {swarm: unix:///PATH | tcp://HOST:2376 | ssh://USER@HOST}",
            )
        return None  # a Swarm environment: envkit.engine.swarm connects to its manager
    if "resolve_image" in raw:
        fail(
            "invalid-engine",
            "resolve_image: applies to a Swarm environment only (engine: {swarm: ...})",
            (*at, "resolve_image"),
            "remove it: a container engine runs the image it pulled, by its id",
        )
        return None
    if (host is None) == (context is None):
        fail(
            "invalid-engine",
            "give exactly one of host and context",
            at,
            "host: an address (tcp://HOST:2376, ssh://USER@HOST, unix:///PATH); "
            "context: a docker context name",
        )
        return None
    if context is not None:
        if tls is not None:
            fail(
                "engine-tls-unused",
                "tls goes with host: tcp://..., not with a context",
                (*at, "tls"),
                "a docker context carries its own TLS files",
            )
            return None
        return _address_or_context(str(context), (*at, "context"), fail, where)
    text = str(host)
    if "://" not in text and not text.startswith("/"):
        fail(
            "invalid-engine",
            f"{text!r} is not an engine address",
            (*at, "host"),
            _ADDRESS_HINT + "; a context name goes under context:",
        )
        return None
    if not _check_address(text, (*at, "host"), fail):
        return None
    if tls is None:
        return EngineSetting(address=text.strip(), where=where)
    if not text.strip().lower().startswith("tcp://"):
        fail(
            "engine-tls-unused",
            "tls applies only to a tcp:// host",
            (*at, "tls"),
            "remove tls, or reach the engine over tcp://HOST:2376",
        )
        return None
    files = {
        k: _tls_file(doc, str(tls.get(k, "")), (*at, "tls", k), fail) for k in ("ca", "cert", "key")
    }
    if not all(files.values()):
        return None
    return EngineSetting(
        address=text.strip(),
        tls_ca=files["ca"],
        tls_cert=files["cert"],
        tls_key=files["key"],
        where=where,
    )


def _tls_file(doc: Document, name: str, at: DocPath, fail: _Fail) -> str:
    """The absolute path of a TLS file, checked to be a regular file of a sane size."""
    path = os.path.normpath(os.path.join(doc.directory, os.path.expanduser(name)))
    hint = "give the path of a PEM file, relative to the stack file"
    try:
        st = os.stat(path)  # follows a symlink: its target must be a regular file
    except FileNotFoundError:
        fail("engine-tls-file", f"{name!r} does not exist ({path})", at, hint)
        return ""
    except OSError as exc:
        fail("engine-tls-file", f"cannot read {name!r}: {exc.strerror}", at, hint)
        return ""
    if not stat.S_ISREG(st.st_mode):
        fail("engine-tls-file", f"{name!r} is not a regular file ({_kind(st.st_mode)})", at, hint)
        return ""
    if st.st_size > _TLS_FILE_LIMIT:
        fail(
            "engine-tls-file",
            f"{name!r} is {st.st_size} bytes, not a PEM file (at most {_TLS_FILE_LIMIT} bytes)",
            at,
            hint,
        )
        return ""
    return path


def _kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return kind
    return "not a file"

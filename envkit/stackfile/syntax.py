"""Docker Compose's short syntaxes as small pure parsers: ports, volumes, durations, sizes.

Each parser returns model values or raises :class:`Invalid`, whose message refers to the
whole input as ``{value}`` so the caller can show it quoted, or masked when it is
sensitive. Decisions:

- ports: ``"80"``, ``80``, ``"8080:80"``, ``"127.0.0.1:8080:80"``, ``"127.0.0.1::80"``,
  ``"[::1]:8080:80"``, ``"53:53/udp"``, ranges ``"9000-9002:9000-9002"`` (expanded, one
  PortSpec per port). An unbracketed IPv6 address is split as Compose splits it
  (docker/go-connections ``splitParts``; docker-py's ``PORT_SPEC`` agrees on every valid
  input): the last two ``:`` fields are the host and container ports, everything before
  them is the address, so ``"::1:6000:6000"`` is ``::1``, 6000, 6000 and ``"::1::80"`` is
  ``::1`` with an engine-chosen port. ``"::1:6000"`` is the address ``:`` (not one: an
  error, as in compose-go). A host range for one container port (``"8000-8010:80"``) is
  one PortSpec with ``published_last``: the engine binds the first free port of it, as
  docker-compose sends it. Other host ranges need a container range of the same length.
- volumes: a source starting with ``/``, ``.`` or ``~`` is a bind mount (resolved against
  the stack file's folder, ``~`` expanded), anything else a named volume, a lone path an
  anonymous volume. Modes, comma-separated as in Compose: ``ro``/``rw``, ``z``/``Z``
  (SELinux relabel), ``nocopy``, a propagation (``rshared``...) and the no-op consistency
  flags. The long form's ``volume: {nocopy, subpath}``, ``bind: {propagation, selinux,
  create_host_path}`` and ``tmpfs: {size, mode}`` fill the same Mount fields; an option that
  does not fit the mount's type is refused.
- durations are Go's (``1m30s``, ``500ms``, ``10us``); plain numbers are seconds. Finite,
  not negative, at most :data:`envkit.limits.MAX_DURATION_S` (an int64 of nanoseconds).
- sizes: ``b``, ``k``, ``m``, ``g``, ``t`` (optionally ``kb``, ``mb``...), powers of 1024;
  plain numbers are bytes; at most :data:`envkit.limits.MAX_BYTES` (int64).
- ports are 1 to 65535, however many digits are written.
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
import re
from pathlib import Path
from typing import Any

from envkit.limits import MAX_BYTES, MAX_PORT, MIN_PORT
from envkit.model import PROTOCOLS, Mount, MountType, PortSpec, Propagation
from envkit.units import Invalid, parse_duration, parse_size

__all__ = [
    "Invalid",
    "parse_duration",
    "parse_mount",
    "parse_port",
    "parse_port_long",
    "parse_size",
    "parse_tmpfs",
    "split_port",
]

_VOLUME_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_NOOP_MODES = frozenset({"cached", "delegated", "consistent"})


# -- ports ---------------------------------------------------------------------------------

_NOT_PORT = "{value} is not a port mapping"


def _port_range(text: str, what: str) -> list[int]:
    low, dash, high = text.partition("-")
    numbers = [low, high] if dash else [low]
    if not all(n.isascii() and n.isdigit() for n in numbers):
        raise Invalid(_NOT_PORT, f"the {what} port must be a number or a range like 9000-9002")
    for n in numbers:
        if len(n.lstrip("0")) > 5 or not MIN_PORT <= int(n) <= MAX_PORT:
            shown = n if len(n) <= 12 else n[:9] + "..."
            raise Invalid(
                _NOT_PORT,
                f"port {shown} is out of range: ports are {MIN_PORT} to {MAX_PORT}",
                safe_hint=f"ports are {MIN_PORT} to {MAX_PORT}",
            )
    first, last = int(numbers[0]), int(numbers[-1])
    if last < first:
        raise Invalid(
            _NOT_PORT,
            f"the {what} range {text} ends before it starts",
            safe_hint="a range is written LOW-HIGH",
        )
    return list(range(first, last + 1))


def _host_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    shown = text if len(text) <= 45 else text[:42] + "..."
    why = "(IPv6 may go in brackets: [::1]:8080:80)"
    if text.startswith(":") or text.endswith(":"):  # "::1:6000" splits as ':', 1, 6000
        why = "(after an IPv6 address come HOST:CONTAINER: ::1:8080:80, or ::1::80)"
    raise Invalid(
        _NOT_PORT,
        f"'{shown}' is not an IP address {why}",
        safe_hint=f"the host IP is not an IP address {why}",
    )


def _expand(host_ip: str, published: str, target: str, protocol: str) -> tuple[PortSpec, ...]:
    targets = _port_range(target, "container")
    if not published:
        return tuple(PortSpec(t, protocol, host_ip, None) for t in targets)
    hosts = _port_range(published, "host")
    if len(targets) == 1 and len(hosts) > 1:  # the engine binds the first free one
        return (PortSpec(targets[0], protocol, host_ip, hosts[0], hosts[-1]),)
    if len(hosts) != len(targets):
        raise Invalid(_NOT_PORT, "the host and container ranges must have the same number of ports")
    return tuple(PortSpec(t, protocol, host_ip, h) for h, t in zip(hosts, targets, strict=True))


def split_port(mapping: str) -> tuple[str, str, str] | None:
    """``[IP:][HOST:]CONTAINER`` (no ``/protocol``) -> ``(ip, host, container)`` as written,
    split as Compose splits it; ``None`` for a malformed ``[...]`` or an empty host port
    before the only ``:``. An IPv6 address may go in brackets, or bare: the last two ``:``
    fields are then the ports and the rest is the address."""
    if mapping.startswith("["):
        address, bracket, rest = mapping[1:].partition("]")
        parts = rest[1:].split(":")
        if not bracket or not rest.startswith(":") or len(parts) != 2:
            return None
        return address, parts[0], parts[1]
    parts = mapping.split(":")
    if len(parts) == 1:
        return "", "", parts[0]
    if len(parts) == 2:
        return ("", parts[0], parts[1]) if parts[0] else None
    return ":".join(parts[:-2]), parts[-2], parts[-1]


def parse_port(value: Any) -> tuple[PortSpec, ...]:
    """Compose's short port syntax -> PortSpecs (a range gives one per port)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid(_NOT_PORT, "write a port as a string like '8080:80' or a mapping")
    text = str(value).strip()
    mapping, slash, protocol = text.rpartition("/")
    if not slash:
        mapping, protocol = text, "tcp"
    if protocol not in PROTOCOLS:
        raise Invalid(_NOT_PORT, "the protocol must be tcp, udp or sctp")
    split = split_port(mapping)
    if split is None:
        if mapping.startswith("["):
            raise Invalid(_NOT_PORT, "an IPv6 address is written [::1]:8080:80")
        raise Invalid(_NOT_PORT, "write the host port before ':' or only the container port")
    address, published, target = split
    host_ip = _host_ip(address) if address or mapping.count(":") >= 2 else ""
    return _expand(host_ip, published, target, protocol)


def parse_port_long(value: dict[str, Any]) -> tuple[PortSpec, ...]:
    """The long form ``{target, published, host_ip, protocol}``."""
    target = value.get("target")
    if target is None or isinstance(target, bool) or not isinstance(target, int | str):
        raise Invalid("{value} is not a port mapping", "a port mapping needs a target port")
    published = value.get("published")
    if isinstance(published, bool) or not isinstance(published, int | str | None):
        raise Invalid(_NOT_PORT, "published is a port number or a range")
    protocol = value.get("protocol", "tcp")
    if protocol not in PROTOCOLS:
        raise Invalid(_NOT_PORT, "the protocol must be tcp, udp or sctp")
    host_ip = value.get("host_ip") or ""
    if not isinstance(host_ip, str):
        raise Invalid(_NOT_PORT, "host_ip is an IP address")
    published_text = "" if published is None else str(published)
    return _expand(_host_ip(host_ip) if host_ip else "", published_text, str(target), protocol)


# -- volumes -------------------------------------------------------------------------------

_NOT_MOUNT = "{value} is not a volume mount"


def _target(path: str) -> str:
    if not path.startswith("/"):
        raise Invalid(
            _NOT_MOUNT,
            f"the container path '{path}' must be absolute",
            safe_hint="the container path must be absolute",
        )
    return posixpath.normpath(path)


def bind_source(source: str, directory: Path) -> str:
    """A bind source as an absolute host path (relative to the stack file's folder)."""
    return os.path.normpath(os.path.join(directory, os.path.expanduser(source)))


def _is_bind(source: str) -> bool:
    return source.startswith(("/", ".", "~"))


_PROPAGATIONS = frozenset(p.value for p in Propagation)
_SELINUX = frozenset({"z", "Z"})


def _modes(text: str) -> dict[str, Any]:
    """The short syntax's modes (``ro,z``, ``nocopy``, ``rshared``) as Mount fields, as
    Compose reads them: ro/rw, z/Z (SELinux relabel), nocopy, a propagation, and the no-op
    consistency flags."""
    modes = text.split(",")
    unknown = set(modes) - {"ro", "rw", "nocopy"} - _SELINUX - _PROPAGATIONS - _NOOP_MODES
    if unknown:
        raise Invalid(
            _NOT_MOUNT,
            f"unknown mode '{sorted(unknown)[0]}': use ro, rw, z, Z, nocopy or a propagation",
            safe_hint="a mode is ro, rw, z, Z, nocopy or a propagation (rprivate, rshared...)",
        )
    for group, what in (({"ro", "rw"}, "ro or rw"), (_SELINUX, "z or Z"),
                        (_PROPAGATIONS, "one propagation")):  # fmt: skip
        if len(group.intersection(modes)) > 1:
            raise Invalid(_NOT_MOUNT, f"a mount takes {what}, not several")
    propagation = next((Propagation(m) for m in modes if m in _PROPAGATIONS), None)
    return {
        "read_only": "ro" in modes,
        "no_copy": "nocopy" in modes,
        "selinux": next((m for m in modes if m in _SELINUX), ""),
        "propagation": propagation,
    }


def _is_modes(text: str) -> bool:
    return not text.startswith("/") and all(
        m in {"ro", "rw", "nocopy"} | _SELINUX | _PROPAGATIONS | _NOOP_MODES
        for m in text.split(",")
    )


def _checked(mount: Mount) -> Mount:
    """Options that do not fit the mount's type are refused (Compose would drop them)."""
    if mount.type is not MountType.VOLUME and (mount.no_copy or mount.subpath):
        raise Invalid(_NOT_MOUNT, "nocopy and subpath are for volumes, not for a bind or tmpfs")
    if mount.type is not MountType.BIND and (mount.propagation or mount.create_host_path):
        raise Invalid(_NOT_MOUNT, "propagation and create_host_path are for bind mounts")
    if mount.type is MountType.TMPFS and mount.selinux:
        raise Invalid(_NOT_MOUNT, "z and Z relabel bind mounts and volumes, not a tmpfs")
    if (mount.selinux or mount.create_host_path) and ":" in mount.source + mount.target:
        # these go to the engine as a SOURCE:TARGET:MODES string: a ':' would move the split
        raise Invalid(_NOT_MOUNT, "a path with ':' cannot take z, Z or create_host_path "
                      "(the engine reads those from a SOURCE:TARGET:MODES string)")  # fmt: skip
    if mount.type is MountType.VOLUME and not mount.source and mount.selinux:
        raise Invalid(_NOT_MOUNT, "z and Z relabel a bind mount or a named volume: "
                      "name the volume (NAME:/path:z) or drop the z")  # fmt: skip
    return mount


def parse_mount(value: Any, directory: Path) -> Mount:
    """Compose's short volume syntax (string) or long form (mapping) -> Mount."""
    if isinstance(value, dict):
        return _checked(_parse_mount_long(value, directory))
    if not isinstance(value, str) or not value:
        raise Invalid(_NOT_MOUNT, "write a volume as 'name:/path[:ro]' or a mapping")
    parts = value.split(":")
    modes: dict[str, Any] = {}
    if len(parts) == 2 and parts[0].startswith("/") and _is_modes(parts[1]):
        # "/data:ro": an anonymous volume with a mode
        return _checked(Mount(MountType.VOLUME, _target(parts[0]), "", **_modes(parts[1])))
    if len(parts) == 3:
        modes = _modes(parts[2])
        parts = parts[:2]
    if len(parts) == 1:
        return Mount(MountType.VOLUME, _target(parts[0]))
    if len(parts) != 2:
        raise Invalid(_NOT_MOUNT, "use SOURCE:TARGET[:MODES]")
    source, target = parts
    if not source:
        raise Invalid(_NOT_MOUNT, "the source before ':' is empty")
    if _is_bind(source):
        source = bind_source(source, directory)
        # the short syntax creates a missing host folder, as Compose has it (legacy Binds)
        mount = Mount(MountType.BIND, _target(target), source, create_host_path=True, **modes)
        return _checked(mount)
    if not _VOLUME_NAME.fullmatch(source):
        raise Invalid(
            _NOT_MOUNT,
            f"'{source}' is neither a volume name nor a path",
            safe_hint="the source is neither a volume name nor a path",
        )
    return _checked(Mount(MountType.VOLUME, _target(target), source, **modes))


def _options(value: dict[str, Any], key: str, kind: MountType) -> dict[str, Any]:
    options = value.get(key)
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise Invalid(_NOT_MOUNT, f"{key} is a mapping of options")
    if options and value.get("type", "volume") != kind.value:
        raise Invalid(_NOT_MOUNT, f"{key}: options are for a mount of type {kind.value}")
    return options


def _flag(options: dict[str, Any], key: str) -> bool:
    flag = options.get(key, False)
    if not isinstance(flag, bool):
        raise Invalid(_NOT_MOUNT, f"{key} must be true or false")
    return flag


def _long_options(value: dict[str, Any]) -> dict[str, Any]:
    """The ``volume:``, ``bind:`` and ``tmpfs:`` options of a long-form mount."""
    volume = _options(value, "volume", MountType.VOLUME)
    bind = _options(value, "bind", MountType.BIND)
    tmpfs = _options(value, "tmpfs", MountType.TMPFS)
    subpath = volume.get("subpath") or ""
    if not isinstance(subpath, str) or subpath.startswith("/") or ".." in subpath.split("/"):
        raise Invalid(_NOT_MOUNT, "subpath is a relative path inside the volume, without '..'")
    propagation = bind.get("propagation")
    if propagation is not None and propagation not in _PROPAGATIONS:
        raise Invalid(_NOT_MOUNT, "propagation is one of " + ", ".join(sorted(_PROPAGATIONS)))
    selinux = bind.get("selinux") or ""
    if selinux and selinux not in _SELINUX:
        raise Invalid(_NOT_MOUNT, "selinux is z (shared) or Z (private)")
    size = tmpfs.get("size")
    mode = tmpfs.get("mode")
    if mode is not None and (isinstance(mode, bool) or not isinstance(mode, int)
                             or not 0 <= mode <= 0o7777):  # fmt: skip
        raise Invalid(_NOT_MOUNT, "tmpfs mode is permission bits, e.g. 0o1777 (octal)")
    return {
        "no_copy": _flag(volume, "nocopy"),
        "subpath": posixpath.normpath(subpath) if subpath else "",
        "propagation": Propagation(propagation) if propagation else None,
        "selinux": selinux,
        "create_host_path": _flag(bind, "create_host_path"),
        "tmpfs_size": None if size is None else parse_size(size),
        "tmpfs_mode": mode,
    }


def _parse_mount_long(value: dict[str, Any], directory: Path) -> Mount:
    kind = value.get("type", "volume")
    try:
        mount_type = MountType(kind)
    except ValueError:
        raise Invalid(_NOT_MOUNT, "type must be volume, bind or tmpfs") from None
    target = value.get("target")
    if not isinstance(target, str) or not target:
        raise Invalid(_NOT_MOUNT, "a mount needs a target: the absolute path in the container")
    source = value.get("source") or ""
    if not isinstance(source, str):
        raise Invalid(_NOT_MOUNT, "source must be a string")
    read_only = value.get("read_only", False)
    if not isinstance(read_only, bool):
        raise Invalid(_NOT_MOUNT, "read_only must be true or false")
    if mount_type is MountType.BIND:
        if not source:
            raise Invalid(_NOT_MOUNT, "a bind mount needs a source path")
        source = bind_source(source, directory)
    elif mount_type is MountType.TMPFS:
        if source:
            raise Invalid(_NOT_MOUNT, "a tmpfs mount has no source")
    elif source and not _VOLUME_NAME.fullmatch(source):
        raise Invalid(
            _NOT_MOUNT,
            f"'{source}' is not a volume name (for a path use type: bind)",
            safe_hint="the source is not a volume name (for a path use type: bind)",
        )
    return Mount(mount_type, _target(target), source, read_only, **_long_options(value))


# -- tmpfs ---------------------------------------------------------------------------------

_TMPFS_SIZE = re.compile(r"(\d+(?:\.\d+)*) ?([kmgtp])?i?b?", re.IGNORECASE)  # Docker's RAMInBytes
_TMPFS_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_tmpfs(entry: str) -> str:
    """``/run:size=64m,mode=1777`` as given, after checking what the engine would refuse at
    create: an absolute path, a ``size=`` it can read and that fits in int64 bytes, an octal
    ``mode=``. Other options pass through to the engine unchanged."""
    path, _, options = entry.partition(":")
    if not path.startswith("/"):
        raise Invalid("{value} is not an absolute container path")
    for option in filter(None, options.split(",")):
        key, _, value = option.partition("=")
        if key == "size":
            match = _TMPFS_SIZE.fullmatch(value)
            if match is None or match.group(1).count(".") > 1:
                raise Invalid("{value} has a tmpfs size the engine cannot read",
                              "write size=64m (k, m, g, t or p; or bytes)")  # fmt: skip
            unit = _TMPFS_UNITS[(match.group(2) or "").lower()]
            if not float(match.group(1)) * unit <= MAX_BYTES:
                raise Invalid("{value} has too large a tmpfs size",
                              f"a size is at most {MAX_BYTES} bytes (8 EiB)")  # fmt: skip
        elif key == "mode" and not (
            value and len(value) <= 11 and all(c in "01234567" for c in value)
            and int(value, 8) <= 0xFFFFFFFF
        ):  # fmt: skip
            raise Invalid("{value} has a tmpfs mode that is not octal", "write mode=1777")
    return entry

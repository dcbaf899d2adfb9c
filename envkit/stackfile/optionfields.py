"""Compose's container options that envkit passes to the engine as they are (``normalize``).

``stop_signal``, ``stdin_open``, ``tty``, ``read_only``, ``shm_size`` (a size),
``pids_limit``, ``oom_score_adj``, ``sysctls`` (map or ``K=V`` list), ``ulimits``
(``nofile: 1024`` or ``{soft, hard}``), ``security_opt``, ``dns``, ``dns_search``,
``dns_opt`` (a string or a list), ``group_add``, ``devices``, ``ipc``, ``pid``,
``userns_mode``, ``cgroup_parent``, ``runtime``, ``mac_address``, ``domainname``, and
``logging`` (``driver``, ``options``), ``platform`` (pulled and created for it; an image
already on the engine is used as it is, whatever its platform). Those that reach the host (``pid: host``,
``ipc: host``, ``userns_mode: host``, ``devices``, an ``unconfined`` ``security_opt``)
are host access (``envkit.stackfile.hostaccess``).
"""

from __future__ import annotations

from typing import Any

from envkit.errors import DocPath
from envkit.model import ContainerOptions
from envkit.stackfile.syntax import parse_size
from envkit.stackfile.treereader import TreeReader

__all__ = ["container_options"]


def container_options(reader: TreeReader, svc: dict[str, Any], at: DocPath) -> ContainerOptions:
    def get(key: str) -> tuple[Any, DocPath]:
        return svc.get(key), (*at, key)

    def text(key: str) -> str | None:
        return reader.string(*get(key))

    def flag(key: str) -> bool:
        return bool(reader.boolean(*get(key)))

    def integer(key: str, low: int, high: int) -> int | None:
        value = reader.number(*get(key), integer=True, minimum=low, maximum=high)
        return None if value is None else int(value)

    sysctls = reader.pairs(svc.get("sysctls"), (*at, "sysctls"), sep="=", what="sysctl")
    logging = reader.mapping(svc.get("logging"), (*at, "logging"))
    log_opts = reader.pairs(
        logging.get("options"), (*at, "logging", "options"), sep="=", what="option"
    )
    return ContainerOptions(
        stop_signal=text("stop_signal"),
        stdin_open=flag("stdin_open"),
        tty=flag("tty"),
        read_only=flag("read_only"),
        shm_size=reader.optional("invalid-size", parse_size, *get("shm_size")),
        pids_limit=integer("pids_limit", -1, 2**31 - 1),
        oom_score_adj=integer("oom_score_adj", -1000, 1000),
        sysctls=tuple(sorted((k, v or "") for k, v in sysctls.items())),
        ulimits=_ulimits(reader, *get("ulimits")),
        security_opt=reader.strings(*get("security_opt")),
        dns=reader.strings(*get("dns")),
        dns_search=reader.strings(*get("dns_search")),
        dns_opt=reader.strings(*get("dns_opt")),
        group_add=reader.strings(*get("group_add")),
        devices=_devices(reader, *get("devices")),
        ipc=text("ipc"),
        pid=text("pid"),
        userns_mode=text("userns_mode"),
        cgroup_parent=text("cgroup_parent"),
        runtime=text("runtime"),
        mac_address=text("mac_address"),
        domainname=text("domainname"),
        log_driver=reader.string(logging.get("driver"), (*at, "logging", "driver")),
        log_options=tuple(sorted((k, v or "") for k, v in log_opts.items())),
        platform=text("platform"),
    )


def _ulimits(reader: TreeReader, value: Any, path: DocPath) -> tuple[tuple[str, int, int], ...]:
    out: list[tuple[str, int, int]] = []
    for name, limit in reader.mapping(value, path).items():
        at = (*path, name)
        if isinstance(limit, dict):
            soft = reader.number(limit.get("soft"), (*at, "soft"), integer=True, minimum=-1)
            hard = reader.number(limit.get("hard"), (*at, "hard"), integer=True, minimum=-1)
        else:
            soft = hard = reader.number(limit, at, integer=True, minimum=-1)
        if soft is None or hard is None:
            reader.fail("invalid-ulimit", f"ulimit {name} needs a number, or soft and hard", at)
            continue
        if soft > hard:
            reader.fail("invalid-ulimit", f"ulimit {name}: soft {soft} is above hard {hard}", at)
            continue
        out.append((str(name), int(soft), int(hard)))
    return tuple(sorted(out))


def _devices(reader: TreeReader, value: Any, path: DocPath) -> tuple[str, ...]:
    out: list[str] = []
    for index, entry in enumerate(reader.items(value, path)):
        if isinstance(entry, dict):  # long form: {source, target, permissions}
            source = reader.string(entry.get("source"), (*path, index, "source"))
            target = reader.string(entry.get("target"), (*path, index, "target")) or source
            perms = reader.string(entry.get("permissions"), (*path, index, "permissions"))
            if source:
                out.append(":".join(filter(None, (source, target, perms))))
            continue
        device = reader.string(entry, (*path, index))
        if device:
            out.append(device)
    return tuple(out)

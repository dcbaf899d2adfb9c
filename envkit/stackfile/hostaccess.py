"""What a service can reach on the host: the lines ``plan`` shows as "host access", and what
``validate --strict`` / ``up --strict`` refuse (for CI on untrusted branches).

Compose allows all of these and so does envkit by default; a stack from a pull request can
still mount ``/`` or the Docker socket and own the machine. What counts:

- a bind mount of ``/``, of a system folder (``/etc``, ``/root``, ``/boot``, ``/proc``,
  ``/sys``, ``/dev``, ``/var/lib/docker``, ...), or of the Docker socket;
- a bind mount of any path outside the stack file's folder;
- ``privileged: true``, and capabilities that amount to it (``SYS_ADMIN``, ``ALL`` ...);
- ``network_mode: host``, ``pid: host``, ``ipc: host``, ``userns_mode: host``, host
  ``devices``, and a ``security_opt`` that turns confinement off (``seccomp=unconfined``,
  ``apparmor=unconfined``, ``label=disable``);
- a port published on every interface (no host IP, ``0.0.0.0`` or ``::``), which other
  machines can reach.

It reads the desired state, and the file system only to resolve symbolic links: the
engine follows a link in a bind source, so ``./data -> /etc`` is a bind of ``/etc``.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

from envkit.errors import Diagnostic, DocPath, Origin
from envkit.model import DesiredState, MountType, ServiceSpec, is_wildcard

__all__ = ["HostAccess", "host_access", "strict_diagnostics"]

DOCKER_SOCKETS = frozenset({"/var/run/docker.sock", "/run/docker.sock"})
SYSTEM_PATHS = frozenset(
    {
        "/",
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/proc",
        "/root",
        "/run",
        "/sbin",
        "/sys",
        "/usr",
        "/var",
        "/var/lib/docker",
        "/var/run",
    }
)
POWERFUL_CAPS = frozenset(
    {"ALL", "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "NET_ADMIN"}
)


@dataclass(frozen=True, slots=True)
class HostAccess:
    service: str
    code: str  # kebab-case: host-bind, docker-socket, outside-stack, privileged, ...
    what: str  # for people: "bind-mounts the Docker socket /var/run/docker.sock"
    path: DocPath  # where in the stack file


def _inside(path: str, folder: str) -> bool:
    path, folder = posixpath.normpath(path), posixpath.normpath(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def host_access(desired: DesiredState) -> list[HostAccess]:
    folder = os.path.dirname(os.path.realpath(desired.source)) if desired.source else ""
    found: list[HostAccess] = []
    for svc in desired.services:
        at: DocPath = ("services", svc.name)
        for i, mount in enumerate(svc.mounts):
            if mount.type is not MountType.BIND:
                continue
            source = os.path.realpath(mount.source)
            where = (*at, "volumes", i)
            if source in DOCKER_SOCKETS:
                found.append(
                    HostAccess(
                        svc.name,
                        "docker-socket",
                        f"bind-mounts the Docker socket {source}: it controls the engine",
                        where,
                    )
                )
            elif source in SYSTEM_PATHS or any(
                _inside(source, p) for p in SYSTEM_PATHS - {"/", "/home", "/var", "/run", "/usr"}
            ):
                found.append(
                    HostAccess(svc.name, "host-bind", f"bind-mounts the host's {source}", where)
                )
            elif folder and not _inside(source, folder):
                found.append(
                    HostAccess(
                        svc.name,
                        "outside-stack",
                        f"bind-mounts {source}, outside the stack's folder {folder}",
                        where,
                    )
                )
        if svc.network_mode == "host":
            found.append(
                HostAccess(
                    svc.name,
                    "host-network",
                    "shares the host's network stack (network_mode: host): every host port "
                    "and interface",
                    (*at, "network_mode"),
                )
            )
        found.extend(_namespaces_and_devices(svc, at))
        if svc.privileged:
            found.append(
                HostAccess(
                    svc.name,
                    "privileged",
                    "runs privileged: every device and capability of the host",
                    (*at, "privileged"),
                )
            )
        caps = sorted(c for c in svc.cap_add if c.upper().removeprefix("CAP_") in POWERFUL_CAPS)
        if caps:
            found.append(
                HostAccess(
                    svc.name,
                    "powerful-capability",
                    f"adds {', '.join(caps)}, which reach the host",
                    (*at, "cap_add"),
                )
            )
        public = sorted(
            {
                f"{p.published_text() or 'random'}/{p.protocol}"
                for p in svc.ports
                if is_wildcard(p.host_ip)
            }
        )
        if public:
            found.append(
                HostAccess(
                    svc.name,
                    "public-port",
                    f"publishes {', '.join(public)} on every interface (other machines reach it)",
                    (*at, "ports"),
                )
            )
    return found


def _namespaces_and_devices(svc: ServiceSpec, at: DocPath) -> list[HostAccess]:
    o = svc.options
    found = [
        HostAccess(svc.name, f"host-{key}", f"shares the host's {what} ({key}: host)", (*at, key))
        for key, value, what in (
            ("pid", o.pid, "processes"),
            ("ipc", o.ipc, "shared memory"),
            ("userns_mode", o.userns_mode, "user namespace"),
        )
        if value == "host"
    ]
    foreign = [n for k, n, _ in svc.volumes_from if k == "container"]
    if svc.network_mode and svc.network_mode.startswith("container:"):
        foreign.append(svc.network_mode.partition(":")[2])
    if foreign:
        found.append(
            HostAccess(
                svc.name,
                "foreign-container",
                f"reaches into containers outside the stack ({', '.join(foreign)})",
                (*at, "volumes_from" if svc.volumes_from else "network_mode"),
            )
        )
    if o.devices:
        found.append(
            HostAccess(
                svc.name,
                "host-device",
                f"uses the host's devices {', '.join(d.split(':', 1)[0] for d in o.devices)}",
                (*at, "devices"),
            )
        )
    unconfined = [s for s in o.security_opt if "unconfined" in s or "disable" in s]
    if unconfined:
        found.append(
            HostAccess(
                svc.name,
                "unconfined",
                f"turns confinement off ({', '.join(unconfined)})",
                (*at, "security_opt"),
            )
        )
    return found


def strict_diagnostics(
    desired: DesiredState, locate: Callable[[DocPath], Origin | None]
) -> list[Diagnostic]:
    """``--strict``: every host access as a located error."""
    return [
        Diagnostic(
            f"strict-{a.code}",
            f"service {a.service!r} {a.what}",
            a.path,
            locate(a.path),
            "--strict refuses host access (for untrusted stacks); remove it, publish on "
            "127.0.0.1, or run without --strict",
        )
        for a in host_access(desired)
    ]

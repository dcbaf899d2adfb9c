"""The Swarm-only keys of a rendered environment: ``deploy:``, port publish modes, networks,
secrets and configs, read into :mod:`envkit.swarm_model` values around the shared desired state.

Kept apart from ``normalize`` (the container engines' reader) so that a single-engine stack
never pays for it and the two evolve separately. Reads secret and config files (regular files
inside nothing special, at most 500 KiB each, Swarm's own limit; never a FIFO or device).
"""

from __future__ import annotations

import os
import stat
from typing import Any

from envkit.errors import Diagnostic, DocPath, StackError
from envkit.model import DesiredState
from envkit.secretkey import with_secret_key
from envkit.stackfile.rendered import Rendered
from envkit.stackfile.treereader import TreeReader
from envkit.swarm_model import (
    Deploy,
    DeployMode,
    EndpointMode,
    ObjectRef,
    Placement,
    Resources,
    RestartPolicy,
    SwarmNetwork,
    SwarmObject,
    SwarmService,
    SwarmStack,
    UpdateConfig,
)
from envkit.units import parse_duration, parse_size

__all__ = ["MAX_OBJECT_BYTES", "to_swarm"]

MAX_OBJECT_BYTES = 500 * 1024  # Swarm refuses larger secrets and configs


def to_swarm(rendered: Rendered, desired: DesiredState) -> SwarmStack:
    """The Swarm stack of a rendered environment; StackError lists every problem."""
    reader = _SwarmReader(rendered)
    tree = rendered.tree
    bodies = reader.mapping(tree.get("services"), ("services",))
    services = tuple(
        reader.service(spec, reader.mapping(bodies.get(spec.name), ("services", spec.name)))
        for spec in desired.services
    )
    networks = [
        reader.network(str(n), b)
        for n, b in reader.mapping(tree.get("networks"), ("networks",)).items()
    ]
    if any(not s.networks or "default" in dict(s.networks) for s in services) and not any(
        n.name == "default" for n in networks
    ):
        networks.append(SwarmNetwork("default"))
    secrets = tuple(
        reader.file_object("secrets", str(n), b)
        for n, b in reader.mapping(tree.get("secrets"), ("secrets",)).items()
    )
    configs = tuple(
        reader.file_object("configs", str(n), b, sensitive=False)
        for n, b in reader.mapping(tree.get("configs"), ("configs",)).items()
    )
    reader.check_refs(services, networks, secrets, configs)
    if reader.diagnostics:
        raise StackError(reader.diagnostics)
    services = tuple(
        s
        if s.networks
        else SwarmService(s.spec, s.deploy, s.host_ports, (("default", ()),), s.secrets, s.configs)
        for s in services
    )
    # The task hash records sensitive values as keyed tokens (envkit.secretkey).
    keyed = with_secret_key(desired)
    from envkit.stackfile.enginesetting import swarm_resolve_image

    data = rendered.document.data if rendered.document is not None else {}
    resolve = swarm_resolve_image(data, rendered.environment)  # "always" without a document
    return SwarmStack(keyed, services, tuple(networks), secrets, configs, resolve)


class _SwarmReader(TreeReader):
    def service(self, spec: Any, body: dict[str, Any]) -> SwarmService:
        at: DocPath = ("services", spec.name)
        host_ports = frozenset(self._host_ports(body.get("ports"), (*at, "ports")))
        return SwarmService(
            spec=spec,
            deploy=self.deploy(self.mapping(body.get("deploy"), (*at, "deploy")), (*at, "deploy")),
            host_ports=host_ports,
            networks=self._networks(body.get("networks"), (*at, "networks")),
            secrets=self._refs(body.get("secrets"), (*at, "secrets")),
            configs=self._refs(body.get("configs"), (*at, "configs")),
        )

    def deploy(self, body: dict[str, Any], at: DocPath) -> Deploy:
        mode = self.optional("invalid-mode", DeployMode, body.get("mode"), (*at, "mode"))
        endpoint = self.optional(
            "invalid-endpoint-mode", EndpointMode, body.get("endpoint_mode"), (*at, "endpoint_mode")
        )
        labels = self.pairs(body.get("labels"), (*at, "labels"), sep="=", what="label")
        placement = self.mapping(body.get("placement"), (*at, "placement"))
        prefs = []
        for i, p in enumerate(
            self.items(placement.get("preferences"), (*at, "placement", "preferences"))
        ):
            spread = self.mapping(p, (*at, "placement", "preferences", i)).get("spread")
            if isinstance(spread, str):
                prefs.append(spread)
        res = self.mapping(body.get("resources"), (*at, "resources"))
        return Deploy(
            mode=mode or DeployMode.REPLICATED,
            replicas=self.number(body.get("replicas"), (*at, "replicas"), integer=True),
            endpoint_mode=endpoint or EndpointMode.VIP,
            labels=tuple(sorted((k, v or "") for k, v in labels.items())),
            placement=Placement(
                constraints=self.strings(
                    placement.get("constraints"), (*at, "placement", "constraints")
                ),
                preferences=tuple(prefs),
                max_replicas_per_node=self.number(
                    placement.get("max_replicas_per_node"),
                    (*at, "placement", "max_replicas_per_node"),
                    integer=True,
                ),
            ),
            update_config=self._update(body.get("update_config"), (*at, "update_config")),
            rollback_config=self._update(body.get("rollback_config"), (*at, "rollback_config")),
            resources=self._resources(res, (*at, "resources")) if res else None,
            restart_policy=self._restart(body.get("restart_policy"), (*at, "restart_policy")),
        )

    def _duration(self, value: Any, path: DocPath) -> float | None:
        return self.optional("invalid-duration", parse_duration, value, path)

    def _update(self, value: Any, at: DocPath) -> UpdateConfig | None:
        if value is None:
            return None
        b = self.mapping(value, at)
        return UpdateConfig(
            parallelism=self.number(b.get("parallelism"), (*at, "parallelism"), integer=True),
            delay_s=self._duration(b.get("delay"), (*at, "delay")),
            failure_action=self.string(b.get("failure_action"), (*at, "failure_action")),
            monitor_s=self._duration(b.get("monitor"), (*at, "monitor")),
            max_failure_ratio=self.number(
                b.get("max_failure_ratio"), (*at, "max_failure_ratio"), integer=False, maximum=1
            ),
            order=self.string(b.get("order"), (*at, "order")),
        )

    def _resources(self, b: dict[str, Any], at: DocPath) -> Resources:
        lim = self.mapping(b.get("limits"), (*at, "limits"))
        res = self.mapping(b.get("reservations"), (*at, "reservations"))
        return Resources(
            limit_cpus=self.number(lim.get("cpus"), (*at, "limits", "cpus"), integer=False),
            limit_memory=self.optional("invalid-size", parse_size, lim.get("memory"), (*at, "limits", "memory")),
            limit_pids=self.number(lim.get("pids"), (*at, "limits", "pids"), integer=True),
            reserve_cpus=self.number(res.get("cpus"), (*at, "reservations", "cpus"), integer=False),
            reserve_memory=self.optional(
                "invalid-size", parse_size, res.get("memory"), (*at, "reservations", "memory")
            ),
        )  # fmt: skip

    def _restart(self, value: Any, at: DocPath) -> RestartPolicy | None:
        if value is None:
            return None
        b = self.mapping(value, at)
        return RestartPolicy(
            condition=self.string(b.get("condition"), (*at, "condition")),
            delay_s=self._duration(b.get("delay"), (*at, "delay")),
            max_attempts=self.number(b.get("max_attempts"), (*at, "max_attempts"), integer=True),
            window_s=self._duration(b.get("window"), (*at, "window")),
        )

    def _host_ports(self, value: Any, at: DocPath) -> list[str]:
        out = []
        for entry in self.items(value, at) if isinstance(value, list) else []:
            if isinstance(entry, dict) and entry.get("mode") == "host":
                out.append(f"{entry.get('target')}/{entry.get('protocol') or 'tcp'}")
        return out

    def _networks(self, value: Any, at: DocPath) -> tuple[tuple[str, tuple[str, ...]], ...]:
        if isinstance(value, dict):
            out = []
            for name, body in value.items():
                aliases = self.mapping(body, (*at, name)).get("aliases")
                out.append((str(name), self.strings(aliases, (*at, name, "aliases"))))
            return tuple(out)
        return tuple((n, ()) for n in self.strings(value, at))

    def _refs(self, value: Any, at: DocPath) -> tuple[ObjectRef, ...]:
        out = []
        for i, item in enumerate(self.items(value, at)):
            if isinstance(item, str):
                out.append(ObjectRef(item))
            elif isinstance(item, dict) and isinstance(item.get("source"), str):
                out.append(
                    ObjectRef(
                        item["source"],
                        str(item.get("target") or ""),
                        str(item.get("uid") or "0"),
                        str(item.get("gid") or "0"),
                        int(item["mode"]) if isinstance(item.get("mode"), int) else 0o444,
                    )
                )
            else:
                self.wrong_type("a name or {source, target}", item, (*at, i))
        return tuple(out)

    def network(self, name: str, body: Any) -> SwarmNetwork:
        at: DocPath = ("networks", name)
        b = self.mapping(body, at)
        opts = self.pairs(b.get("driver_opts"), (*at, "driver_opts"), sep="=", what="option")
        labels = self.pairs(b.get("labels"), (*at, "labels"), sep="=", what="label")
        return SwarmNetwork(
            name=name,
            driver=self.string(b.get("driver"), (*at, "driver")) or "overlay",
            attachable=self.boolean(b.get("attachable"), (*at, "attachable")) is not False,
            internal=bool(self.boolean(b.get("internal"), (*at, "internal"))),
            driver_opts=tuple(sorted((k, v or "") for k, v in opts.items())),
            labels=tuple(sorted((k, v or "") for k, v in labels.items())),
            external=bool(self.boolean(b.get("external"), (*at, "external"))),
        )

    def file_object(
        self, kind: str, name: str, body: Any, *, sensitive: bool = True
    ) -> SwarmObject:
        at: DocPath = (kind, name)
        b = self.mapping(body, at)
        if self.boolean(b.get("external"), (*at, "external")):
            return SwarmObject(name, external=True, sensitive=sensitive)
        sources = [k for k in ("file", "content", "environment") if b.get(k) is not None]
        if len(sources) != 1:
            self.fail(f"invalid-{kind[:-1]}", "needs exactly one of file, content, environment", at,
                      hint="write `file: ./path`, `content: TEXT` or `environment: VARIABLE`")  # fmt: skip
            return SwarmObject(name, sensitive=sensitive)
        key = sources[0]
        value = str(b[key])
        if key == "content":
            data = value.encode()
        elif key == "environment":
            if value not in self.rendered.env:
                self.fail(f"missing-{kind[:-1]}", f"the environment variable {value} is not set",
                          (*at, key), hint=f"set {value} in the environment or an env_file")  # fmt: skip
                return SwarmObject(name, sensitive=sensitive)
            data = self.rendered.env[value].encode()
        else:
            data = self._read_file(value, (*at, key)) or b""
        return SwarmObject(name, data, sensitive=sensitive)

    def _read_file(self, relative: str, at: DocPath) -> bytes | None:
        path = self.rendered.directory / relative
        hint = "point it at a regular file of at most 500 KiB next to the stack file"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
        except OSError as exc:
            self.fail("unreadable-file", f"cannot open {relative}: {exc.strerror}", at, hint=hint)
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_OBJECT_BYTES:
                what = "not a regular file" if not stat.S_ISREG(st.st_mode) else "too large"
                self.fail("unreadable-file", f"{relative} is {what}", at, hint=hint)
                return None
            return os.read(fd, MAX_OBJECT_BYTES + 1)[:MAX_OBJECT_BYTES]
        finally:
            os.close(fd)

    def check_refs(
        self,
        services: tuple[SwarmService, ...],
        networks: list[SwarmNetwork],
        secrets: tuple[SwarmObject, ...],
        configs: tuple[SwarmObject, ...],
    ) -> None:
        known = {
            "networks": {n.name for n in networks} | {"default"},
            "secrets": {s.name for s in secrets},
            "configs": {c.name for c in configs},
        }
        for svc in services:
            used = {
                "networks": [n for n, _ in svc.networks],
                "secrets": [r.source for r in svc.secrets],
                "configs": [r.source for r in svc.configs],
            }
            for kind, names in used.items():
                for i, name in enumerate(names):
                    if name not in known[kind]:
                        self.diagnostics.append(
                            Diagnostic(
                                f"unknown-{kind[:-1]}",
                                f"'{name}' is not declared under top-level {kind}:",
                                ("services", svc.name, kind, i),
                                self.rendered.origin(("services", svc.name, kind, i))
                                or self.rendered.origin(("services", svc.name, kind)),
                                f"add it to `{kind}:` at the top of the stack file",
                            )
                        )

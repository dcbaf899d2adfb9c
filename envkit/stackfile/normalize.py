"""Rendered tree -> DesiredState: every Compose spelling normalized into envkit.model.

All problems are collected and raised together as one StackError whose Diagnostics point
at the source (``rendered.origin(path)``). A value that is sensitive is never quoted in a
message: it shows as ``(sensitive)`` (see :mod:`envkit.stackfile.treereader`). This module assembles
services and volumes; :mod:`envkit.stackfile.servicefields` reads each field. Decisions:

- ``environment`` (map or ``K=V`` list): numbers and booleans become their YAML spelling
  (``true``, ``3306``); a null value or a bare ``K`` passes the variable through from the
  env context (process environment + the environment's env files) and is left out when it
  is not set there, as in Compose. A service ``env_file`` is read first and ``environment``
  overrides it; every name from a service env_file is sensitive.
- ``command`` / ``entrypoint``: a list is kept, a string is split like a shell (shlex).
- ``depends_on``, ``labels``, ``extra_hosts``, ``cap_add``, ``cap_drop``, ``environment``
  are sorted, so every spelling compares equal; ports, mounts and tmpfs keep their order.
- A service with ``build`` and no ``image`` gets the image ``{project}-{service}``.
"""

from __future__ import annotations

from typing import Any

from envkit.errors import Diagnostic, DocPath, StackError
from envkit.limits import MAX_CPUS, MAX_REPLICAS, MAX_RETRIES, MIN_CPUS, MIN_MEM_LIMIT
from envkit.model import Dependency, DesiredState, Mount, PullPolicy, ServiceSpec, VolumeSpec
from envkit.stackfile import deployfields, networkfields, optionfields, secretfields
from envkit.stackfile import servicefields as fields
from envkit.stackfile.rendered import Rendered
from envkit.stackfile.syntax import Invalid, parse_duration, parse_size
from envkit.stackfile.treereader import TreeReader

__all__ = ["to_desired"]

_RESTART = ("no", "always", "unless-stopped", "on-failure")
_PULL = {
    "always": "always",
    "missing": "missing",
    "if_not_present": "missing",
    "never": "never",
    "build": "build",
}


def to_desired(rendered: Rendered) -> DesiredState:
    """The desired state of the rendered environment; StackError lists every problem."""
    norm = _Normalizer(rendered)
    tree = rendered.tree
    if not rendered.stack:
        norm.fail(
            "missing-stack",
            "the stack has no name (its folder's name has no letter or digit)",
            ("stack",),
            hint="add 'name: NAME' (Compose) or 'stack: NAME' at the top of the file",
        )
    networks = tuple(
        networkfields.network(norm, str(name), body)
        for name, body in norm.mapping(tree.get("networks"), ("networks",)).items()
    )
    norm.declared_networks = frozenset(n.name for n in networks)
    norm.declared_files = {
        kind: norm.mapping(tree.get(kind), (kind,)) for kind in ("secrets", "configs")
    }
    norm.service_names = frozenset(
        str(n) for n in norm.mapping(tree.get("services"), ("services",))
    )
    services = tuple(
        norm.service(str(name), body)
        for name, body in norm.mapping(tree.get("services"), ("services",)).items()
    )
    named: dict[str, str] = {}
    for svc in services:
        if svc.container_name and svc.container_name in named:
            norm.fail(
                "duplicate-container-name",
                f"services {named[svc.container_name]} and {svc.name} have the same "
                f"container_name {svc.container_name!r}",
                ("services", svc.name, "container_name"),
                hint="give each service its own container_name",
            )
        elif svc.container_name:
            named[svc.container_name] = svc.name
    volumes = tuple(
        norm.volume(str(name), body)
        for name, body in norm.mapping(tree.get("volumes"), ("volumes",)).items()
    )
    if norm.diagnostics:
        raise StackError(sorted(norm.diagnostics, key=_position))
    return DesiredState(
        stack=rendered.stack,
        environment=rendered.environment,
        instance=rendered.instance,
        services=services,
        volumes=volumes,
        networks=networks,
        source=rendered.source,
        sensitive_values=rendered.sensitive_values | frozenset(norm.extra_sensitive),
    )


class _Normalizer(TreeReader):
    """Assembles ServiceSpecs and VolumeSpecs; each field is read by envkit.stackfile.servicefields."""

    declared_networks: frozenset[str] = frozenset()
    declared_files: dict[str, dict[str, Any]] = {}  # noqa: RUF012 (set per instance)
    service_names: frozenset[str] = frozenset()

    def service(self, name: str, body: Any) -> ServiceSpec:
        at: DocPath = ("services", name)
        svc = deployfields.with_deploy(self, self.mapping(body, at), at)

        def get(key: str) -> tuple[Any, DocPath]:
            return svc.get(key), (*at, key)

        build = fields.build(self, *get("build"))
        image = self.string(*get("image"))
        if not image:
            if build is None:
                self.fail(
                    "missing-image",
                    f"service '{name}' has neither image nor build",
                    at,
                    hint="add 'image: NAME[:TAG]' or a 'build' context",
                    at_key=True,
                )
            image = f"{self._project()}-{name}".lower()
        environment, sensitive_env = fields.environment(self, svc, at)
        restart = svc.get("restart")
        if restart is False:
            restart = "no"
        restart = self.string(restart, (*at, "restart")) or "no"
        policy, _, retries = restart.partition(":")
        if policy not in _RESTART or (
            retries
            and (
                policy != "on-failure"
                or not (retries.isascii() and retries.isdigit())
                or len(retries) > 10
                or int(retries) > MAX_RETRIES
            )
        ):
            self.fail(
                "invalid-restart",
                "{value} is not a restart policy",
                (*at, "restart"),
                value=restart,
                hint=f"use no, always, unless-stopped or on-failure[:N] (N up to {MAX_RETRIES})",
            )
        pull = self.string(*get("pull_policy")) or "missing"
        refresh_s = _refresh_window(pull)
        if pull not in _PULL and refresh_s is None:
            self.fail(
                "invalid-pull-policy",
                "{value} is not a pull policy",
                (*at, "pull_policy"),
                value=pull,
                hint="use always, missing, never, build, daily, weekly or every_<duration> "
                "(every_12h, every_30m)",
            )
        replicas = self.number(*get("replicas"), integer=True, maximum=MAX_REPLICAS)
        networks = networkfields.service_networks(self, *get("networks"), self.declared_networks)
        mode = networkfields.network_mode(self, *get("network_mode"), self.service_names)
        if mode is not None and svc.get("networks") is not None:
            self.fail(
                "network-mode-and-networks",
                f"service '{name}' has both network_mode and networks",
                (*at, "network_mode"),
                hint="keep one: network_mode puts the container on the host's or another "
                "container's network, where it cannot join networks",
            )
        links = networkfields.links(self, *get("links"), self.service_names)
        volumes_from = networkfields.volumes_from(self, *get("volumes_from"), self.service_names)
        # On a Swarm, secrets and configs are Swarm objects (envkit.stackfile.swarmkeys).
        secret_mounts: tuple[Mount, ...] = ()
        config_mounts: tuple[Mount, ...] = ()
        secret_digests: tuple[tuple[str, str], ...] = ()
        config_digests: tuple[tuple[str, str], ...] = ()
        if not deployfields.on_swarm(self):
            secret_mounts, secret_digests = secretfields.mounted_files(
                self, "secrets", *get("secrets"), self.declared_files["secrets"]
            )
            config_mounts, config_digests = secretfields.mounted_files(
                self, "configs", *get("configs"), self.declared_files["configs"]
            )
        depends_on = fields.depends_on(self, *get("depends_on"))
        # As in Compose, a link, volumes_from or network_mode service:NAME is a dependency.
        implied = {s for s, _ in links} | {n for k, n, _ in volumes_from if k == "service"}
        if mode is not None and mode.startswith("service:"):
            implied.add(mode.partition(":")[2])
        known = {d.service for d in depends_on}
        depends_on = tuple(
            sorted(
                (*depends_on, *(Dependency(s) for s in implied - known if s != name)),
                key=lambda d: d.service,
            )
        )
        cpus = self.number(*get("cpus"), integer=False, minimum=MIN_CPUS, maximum=MAX_CPUS)
        mem_limit = self.optional("invalid-size", parse_size, *get("mem_limit"))
        if mem_limit and mem_limit < MIN_MEM_LIMIT:
            self.fail(
                "invalid-size",
                "{value} is below the engine's minimum memory limit of 6 MiB",
                (*at, "mem_limit"),
                value=svc.get("mem_limit"),
                hint="write 6m or more (0 means no limit)",
            )
            mem_limit = None
        origin = self.rendered.key_origin(at) or self.rendered.origin(at)
        return ServiceSpec(
            name=name,
            image=image,
            build=build,
            command=fields.command(self, *get("command")),
            entrypoint=fields.command(self, *get("entrypoint")),
            environment=environment,
            ports=fields.ports(self, *get("ports")),
            mounts=(*fields.mounts(self, *get("volumes")), *secret_mounts, *config_mounts),
            depends_on=depends_on,
            healthcheck=fields.healthcheck(self, *get("healthcheck")),
            restart=restart,
            labels=tuple(
                sorted((k, v or "") for k, v in fields.labels(self, *get("labels")).items())
            ),
            user=self.string(*get("user")),
            working_dir=self.string(*get("working_dir")),
            hostname=self.string(*get("hostname")),
            extra_hosts=fields.extra_hosts(self, *get("extra_hosts")),
            cap_add=self.strings(*get("cap_add"), sort=True),
            cap_drop=self.strings(*get("cap_drop"), sort=True),
            privileged=bool(self.boolean(*get("privileged"))),
            tmpfs=fields.tmpfs(self, *get("tmpfs")),
            init=self.boolean(*get("init")),
            stop_grace_period_s=self.optional(
                "invalid-duration", parse_duration, *get("stop_grace_period")
            ),
            mem_limit=mem_limit,
            cpus=cpus,
            replicas=1 if replicas is None else replicas,
            pull_policy=PullPolicy.REFRESH if refresh_s else PullPolicy(_PULL.get(pull, "missing")),
            pull_refresh_s=refresh_s,
            networks=networks,
            network_mode=mode,
            links=links,
            expose=networkfields.expose(self, *get("expose")),
            container_name=self._container_name(name, svc, replicas),
            file_digests=tuple(sorted((*secret_digests, *config_digests))),
            options=optionfields.container_options(self, svc, at),
            volumes_from=volumes_from,
            sensitive_env=sensitive_env,
            init_env=(
                None if svc.get("init_env") is None else frozenset(self.strings(*get("init_env")))
            ),
            origin=origin,
        )

    def _container_name(self, name: str, svc: dict[str, Any], replicas: int | None) -> str | None:
        path: DocPath = ("services", name, "container_name")
        fixed = self.string(svc.get("container_name"), path)
        if fixed and (replicas or 1) > 1:
            self.fail(
                "container-name-replicas",
                f"service '{name}' has a container_name and {replicas} replicas",
                path,
                hint="one name is one container: drop container_name, or use one replica",
            )
        return fixed

    def _project(self) -> str:
        base = f"{self.rendered.stack}-{self.rendered.environment}"
        return f"{base}-{self.rendered.instance}" if self.rendered.instance else base

    def volume(self, name: str, body: Any) -> VolumeSpec:
        at: DocPath = ("volumes", name)
        spec = self.mapping(body, at)
        opts = self.pairs(spec.get("driver_opts"), (*at, "driver_opts"), sep="=", what="option")
        labels = fields.labels(self, spec.get("labels"), (*at, "labels"))
        external = spec.get("external")
        is_external = (
            bool(external)
            if isinstance(external, dict)
            else bool(self.boolean(external, (*at, "external")))
        )
        # Compose's name: (or the legacy external: {name: ...}) is the engine's name of an
        # external volume. On a volume envkit makes it is refused: every environment and
        # instance gets its own volume, {project}_{name}, and a fixed name would share one.
        legacy = external.get("name") if isinstance(external, dict) else None
        engine_name = self.string(spec.get("name"), (*at, "name")) or (
            legacy if isinstance(legacy, str) else None
        )
        if engine_name and not is_external:
            self.fail(
                "volume-name",
                f"volume {name} has name: {engine_name!r}, but every environment and instance "
                "gets its own volume ({project}_" + name + ")",
                (*at, "name"),
                hint="drop 'name:' (each environment keeps its own data), or create the volume "
                f"once (docker volume create {engine_name}) and mark it 'external: true'",
            )
        return VolumeSpec(
            name=name,
            driver=self.string(spec.get("driver"), (*at, "driver")) or "local",
            driver_opts=tuple(sorted((k, v or "") for k, v in opts.items())),
            labels=tuple(sorted((k, v or "") for k, v in labels.items())),
            external=is_external,
            external_name=engine_name if is_external and engine_name != name else None,
            origin=self.rendered.key_origin(at) or self.rendered.origin(at),
        )


def _refresh_window(policy: str) -> float | None:
    """Compose's ``daily``, ``weekly`` and ``every_<duration>`` (a Go duration, more than
    zero) as seconds; None for any other policy, or a duration that does not parse."""
    fixed = {"daily": 86400.0, "weekly": 7 * 86400.0}
    if policy in fixed:
        return fixed[policy]
    if not policy.startswith("every_"):
        return None
    try:
        seconds = parse_duration(policy.removeprefix("every_"))
    except Invalid:
        return None
    return seconds if seconds > 0 else None


def _position(diagnostic: Diagnostic) -> tuple[int, int]:
    origin = diagnostic.origin
    return (origin.line, origin.col) if origin else (0, 0)

"""Rendered tree -> DesiredState: every Compose spelling normalized into envkit.model.

All problems are collected and raised together as one StackError whose Diagnostics point
at the source (``rendered.origin(path)``). A value that is sensitive is never quoted in a
message: it shows as ``(sensitive)``. Decisions:

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

import shlex
from collections.abc import Callable
from typing import Any, TypeVar

from envkit.envfiles import read_env_files
from envkit.errors import SENSITIVE, Diagnostic, PathPart, StackError, redact
from envkit.model import (
    BuildSpec,
    Condition,
    Dependency,
    DesiredState,
    Healthcheck,
    Mount,
    PortSpec,
    PullPolicy,
    ServiceSpec,
    VolumeSpec,
)
from envkit.render import Rendered, is_secret_name
from envkit.syntax import (
    Invalid,
    bind_source,
    parse_duration,
    parse_mount,
    parse_port,
    parse_port_long,
    parse_size,
)

__all__ = ["to_desired"]

T = TypeVar("T")
Path_ = tuple[PathPart, ...]
_RESTART = ("no", "always", "unless-stopped", "on-failure")
_PULL = {
    "always": "always",
    "missing": "missing",
    "if_not_present": "missing",
    "never": "never",
    "build": "build",
}
_HEALTH_KINDS = ("CMD", "CMD-SHELL", "NONE")


def to_desired(rendered: Rendered) -> DesiredState:
    """The desired state of the rendered environment; StackError lists every problem."""
    norm = _Normalizer(rendered)
    tree = rendered.tree
    if not rendered.stack:
        norm.fail(
            "missing-stack",
            "the stack has no name",
            ("stack",),
            hint="add 'stack: NAME' at the top of the file",
        )
    services = tuple(
        norm.service(str(name), body)
        for name, body in norm.mapping(tree.get("services"), ("services",)).items()
    )
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
        source=rendered.source,
        sensitive_values=rendered.sensitive_values | frozenset(norm.extra_sensitive),
    )


class _Normalizer:
    def __init__(self, rendered: Rendered) -> None:
        self.r = rendered
        self.diagnostics: list[Diagnostic] = []
        self.extra_sensitive: set[str] = set()

    # -- reporting -------------------------------------------------------------------------

    def shown(self, value: Any) -> str:
        text = str(value)
        if self.r.is_sensitive(text) or text in self.extra_sensitive:
            return SENSITIVE
        return f"'{text}'"

    def fail(
        self,
        code: str,
        message: str,
        path: Path_,
        *,
        value: Any = None,
        hint: str | None = None,
        at_key: bool = False,
    ) -> None:
        message = message.replace("{value}", self.shown(value))
        secrets = self.r.sensitive_values | self.extra_sensitive
        hint = redact(hint, secrets) if hint else None
        origin = self.r.key_origin(path) if at_key else self.r.origin(path)
        self.diagnostics.append(Diagnostic(code, redact(message, secrets), path, origin, hint))

    def parse(self, code: str, fn: Callable[[Any], T], value: Any, path: Path_) -> T | None:
        try:
            return fn(value)
        except Invalid as exc:
            secret = self.shown(value) == SENSITIVE
            self.fail(
                code, exc.message, path, value=value, hint=exc.safe_hint if secret else exc.hint
            )
            return None

    def wrong_type(self, expected: str, value: Any, path: Path_) -> None:
        got = _kind(value)
        self.fail("invalid-type", f"expected {expected}, got {got}", path)

    # -- scalars ---------------------------------------------------------------------------

    def mapping(self, value: Any, path: Path_) -> dict[str, Any]:
        if value is None:
            return {}
        if isinstance(value, dict):
            return value
        self.wrong_type("a mapping", value, path)
        return {}

    def items(self, value: Any, path: Path_) -> list[Any]:
        """A list, or a single string taken as a one-item list."""
        if value is None:
            return []
        if isinstance(value, list):
            return value
        if isinstance(value, str):
            return [value]
        self.wrong_type("a list", value, path)
        return []

    def string(self, value: Any, path: Path_) -> str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        self.wrong_type("a string", value, path)
        return None

    def boolean(self, value: Any, path: Path_) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.fail(
            "invalid-type",
            "{value} is not a boolean",
            path,
            value=value,
            hint="write true or false",
        )
        return None

    def number(self, value: Any, path: Path_, *, integer: bool) -> Any:
        if value is None:
            return None
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError
            number = int(value) if integer else float(value)
            if integer and isinstance(value, float) and value != number:
                raise ValueError
            if number < 0:
                raise ValueError
            return number
        except ValueError:
            kind = "a whole number" if integer else "a number"
            self.fail(
                "invalid-number",
                f"{{value}} is not {kind}",
                path,
                value=value,
                hint=f"write {kind} of 0 or more",
            )
            return None

    def scalar_text(self, value: Any) -> str:
        """YAML spelling of a scalar, as Compose passes it to the container."""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def pairs(self, value: Any, path: Path_, *, sep: str, what: str) -> dict[str, str | None]:
        """A ``{k: v}`` mapping or a ``["k=v"]`` list; None marks a bare name / null value."""
        out: dict[str, str | None] = {}
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, dict | list):
                    self.wrong_type("a string, number or boolean", item, (*path, key))
                else:
                    out[str(key)] = None if item is None else self.scalar_text(item)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if not isinstance(item, str) or not item or item.startswith(sep):
                    self.fail(
                        f"invalid-{what}",
                        "{value} is not KEY" + sep + "VALUE",
                        (*path, i),
                        value=item,
                    )
                    continue
                key, has_value, text = item.partition(sep)
                out[key] = text if has_value else None
        elif value is not None:
            self.wrong_type("a mapping or a list", value, path)
        return out

    # -- services --------------------------------------------------------------------------

    def service(self, name: str, body: Any) -> ServiceSpec:
        at: Path_ = ("services", name)
        svc = self.mapping(body, at)

        def get(key: str) -> tuple[Any, Path_]:
            return svc.get(key), (*at, key)

        build = self.build(*get("build"))
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
        environment, sensitive_env = self.environment(svc, at)
        restart = svc.get("restart")
        if restart is False:
            restart = "no"
        restart = self.string(restart, (*at, "restart")) or "no"
        policy, _, retries = restart.partition(":")
        if policy not in _RESTART or (
            retries and (policy != "on-failure" or not retries.isdigit())
        ):
            self.fail(
                "invalid-restart",
                "{value} is not a restart policy",
                (*at, "restart"),
                value=restart,
                hint="use no, always, unless-stopped or on-failure[:N]",
            )
        pull = self.string(*get("pull_policy")) or "missing"
        if pull not in _PULL:
            self.fail(
                "invalid-pull-policy",
                "{value} is not a pull policy",
                (*at, "pull_policy"),
                value=pull,
                hint="use always, missing, never or build",
            )
        replicas = self.number(*get("replicas"), integer=True)
        cpus = self.number(*get("cpus"), integer=False)
        origin = self.r.key_origin(at) or self.r.origin(at)
        return ServiceSpec(
            name=name,
            image=image,
            build=build,
            command=self.command(*get("command")),
            entrypoint=self.command(*get("entrypoint")),
            environment=environment,
            ports=self.ports(*get("ports")),
            mounts=self.mounts(*get("volumes")),
            depends_on=self.depends_on(*get("depends_on")),
            healthcheck=self.healthcheck(*get("healthcheck")),
            restart=restart,
            labels=tuple(sorted((k, v or "") for k, v in self.labels(*get("labels")).items())),
            user=self.string(*get("user")),
            working_dir=self.string(*get("working_dir")),
            hostname=self.string(*get("hostname")),
            extra_hosts=self.extra_hosts(*get("extra_hosts")),
            cap_add=self.strings(*get("cap_add"), sort=True),
            cap_drop=self.strings(*get("cap_drop"), sort=True),
            privileged=bool(self.boolean(*get("privileged"))),
            tmpfs=self.tmpfs(*get("tmpfs")),
            init=self.boolean(*get("init")),
            stop_grace_period_s=self.optional(
                "invalid-duration", parse_duration, *get("stop_grace_period")
            ),
            mem_limit=self.optional("invalid-size", parse_size, *get("mem_limit")),
            cpus=cpus,
            replicas=1 if replicas is None else replicas,
            pull_policy=PullPolicy(_PULL.get(pull, "missing")),
            sensitive_env=sensitive_env,
            origin=origin,
        )

    def _project(self) -> str:
        base = f"{self.r.stack}-{self.r.environment}"
        return f"{base}-{self.r.instance}" if self.r.instance else base

    def optional(self, code: str, fn: Callable[[Any], T], value: Any, path: Path_) -> T | None:
        return None if value is None else self.parse(code, fn, value, path)

    def strings(self, value: Any, path: Path_, *, sort: bool = False) -> tuple[str, ...]:
        out = [self.string(v, (*path, i)) for i, v in enumerate(self.items(value, path))]
        texts = [s for s in out if s is not None]
        return tuple(sorted(texts) if sort else texts)

    def command(self, value: Any, path: Path_) -> tuple[str, ...] | None:
        if value is None:
            return None
        if isinstance(value, str):
            try:
                return tuple(shlex.split(value))
            except ValueError as exc:
                self.fail(
                    "invalid-command",
                    f"{{value}} cannot be split into words: {exc}",
                    path,
                    value=value,
                    hint="close the quote, or write a list",
                )
                return None
        if isinstance(value, list):
            return self.strings(value, path)
        self.wrong_type("a string or a list", value, path)
        return None

    def environment(
        self, svc: dict[str, Any], at: Path_
    ) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
        values: dict[str, str] = {}
        from_files: set[str] = set()
        for name, text in self.service_env_files(svc.get("env_file"), (*at, "env_file")).items():
            values[name] = text
            from_files.add(name)
            if text:
                self.extra_sensitive.add(text)
        declared = self.pairs(
            svc.get("environment"), (*at, "environment"), sep="=", what="environment"
        )
        for name, declared_value in declared.items():
            # null / a bare name: pass through from the env context, or leave out (Compose)
            passed = self.r.env.get(name) if declared_value is None else declared_value
            if passed is None:
                values.pop(name, None)
            else:
                values[name] = passed
        sensitive = {
            name
            for name, value in values.items()
            if name in from_files or is_secret_name(name) or self.r.is_sensitive(value)
        }
        return tuple(sorted(values.items())), frozenset(sensitive)

    def service_env_files(self, value: Any, path: Path_) -> dict[str, str]:
        files = read_env_files(value, path, self.r.directory)
        for problem in files.problems:
            self.fail(problem.code, problem.message, problem.path, hint=problem.hint)
        return {name: found.value for name, found in files.values.items()}

    def labels(self, value: Any, path: Path_) -> dict[str, str | None]:
        return self.pairs(value, path, sep="=", what="label")

    def ports(self, value: Any, path: Path_) -> tuple[PortSpec, ...]:
        out: list[PortSpec] = []
        for i, item in enumerate(self.items(value, path)):
            parser = parse_port_long if isinstance(item, dict) else parse_port
            specs = self.parse("invalid-port", parser, item, (*path, i))
            out.extend(specs or ())
        return tuple(out)

    def mounts(self, value: Any, path: Path_) -> tuple[Mount, ...]:
        out: list[Mount] = []
        for i, item in enumerate(self.items(value, path)):
            mount = self.parse(
                "invalid-volume", lambda v: parse_mount(v, self.r.directory), item, (*path, i)
            )
            if mount is not None:
                out.append(mount)
        return tuple(out)

    def tmpfs(self, value: Any, path: Path_) -> tuple[str, ...]:
        out = self.strings(value, path)
        for i, entry in enumerate(out):
            if not entry.startswith("/"):
                self.fail(
                    "invalid-volume",
                    "{value} is not an absolute container path",
                    (*path, i) if isinstance(value, list) else path,
                    value=entry,
                )
        return out

    def depends_on(self, value: Any, path: Path_) -> tuple[Dependency, ...]:
        deps: list[Dependency] = []
        if isinstance(value, list):
            deps = [Dependency(s) for s in self.strings(value, path)]
        elif isinstance(value, dict):
            for name, spec in value.items():
                condition = self.mapping(spec, (*path, name)).get("condition", "service_started")
                try:
                    deps.append(Dependency(str(name), Condition(condition)))
                except ValueError:
                    self.fail(
                        "invalid-depends-on",
                        "{value} is not a condition",
                        (*path, name, "condition"),
                        value=condition,
                        hint="use service_started, service_healthy or "
                        "service_completed_successfully",
                    )
        elif value is not None:
            self.wrong_type("a list or a mapping", value, path)
        return tuple(sorted(deps, key=lambda d: d.service))

    def healthcheck(self, value: Any, path: Path_) -> Healthcheck | None:
        if value is None:
            return None
        spec = self.mapping(value, path)
        if self.boolean(spec.get("disable"), (*path, "disable")):
            return Healthcheck(("NONE",))
        test = spec.get("test")
        words: tuple[str, ...] | None = None
        if isinstance(test, str):
            words = ("CMD-SHELL", test)
        elif isinstance(test, list) and test:
            words = self.strings(test, (*path, "test"))
            kind = words[0] if words else ""
            if kind not in _HEALTH_KINDS or (kind == "NONE") != (len(words) == 1):
                self.fail(
                    "invalid-healthcheck",
                    "the test must start with CMD, CMD-SHELL or NONE",
                    (*path, "test"),
                    hint="e.g. [CMD, mysqladmin, ping] or a shell string",
                )
                return None
        else:
            self.fail(
                "invalid-healthcheck",
                "a healthcheck needs a test",
                path,
                hint="add 'test: [CMD, ...]', or 'disable: true'",
            )
            return None
        if words == ("NONE",):
            return Healthcheck(words)
        durations = {
            key: self.optional("invalid-duration", parse_duration, spec.get(key), (*path, key))
            for key in ("interval", "timeout", "start_period")
        }
        return Healthcheck(
            test=words,
            interval_s=durations["interval"],
            timeout_s=durations["timeout"],
            start_period_s=durations["start_period"],
            retries=self.number(spec.get("retries"), (*path, "retries"), integer=True),
        )

    def extra_hosts(self, value: Any, path: Path_) -> tuple[tuple[str, str], ...]:
        if isinstance(value, dict):
            pairs = {str(k): self.scalar_text(v) for k, v in value.items()}
        else:
            pairs = {}
            for i, item in enumerate(self.items(value, path)):
                text = str(item)
                sep = "=" if "=" in text else ":"
                host, found, ip = text.partition(sep)
                if not (found and host and ip):
                    self.fail(
                        "invalid-extra-host",
                        "{value} is not HOST:IP",
                        (*path, i),
                        value=item,
                        hint="write host:ip or host=ip",
                    )
                    continue
                pairs[host] = ip
        return tuple(sorted((h, ip.strip("[]")) for h, ip in pairs.items()))

    def build(self, value: Any, path: Path_) -> BuildSpec | None:
        if value is None:
            return None
        spec = {"context": value} if isinstance(value, str) else self.mapping(value, path)
        context = self.string(spec.get("context", "."), (*path, "context")) or "."
        if "://" not in context and not context.startswith("git@"):
            context = bind_source(context, self.r.directory)
        args = self.pairs(spec.get("args"), (*path, "args"), sep="=", what="build-arg")
        resolved = {k: v if v is not None else self.r.env.get(k) for k, v in args.items()}
        return BuildSpec(
            context=context,
            dockerfile=self.string(spec.get("dockerfile"), (*path, "dockerfile")) or "Dockerfile",
            args=tuple(sorted((k, v) for k, v in resolved.items() if v is not None)),
            target=self.string(spec.get("target"), (*path, "target")),
        )

    def volume(self, name: str, body: Any) -> VolumeSpec:
        at: Path_ = ("volumes", name)
        spec = self.mapping(body, at)
        opts = self.pairs(spec.get("driver_opts"), (*at, "driver_opts"), sep="=", what="option")
        labels = self.labels(spec.get("labels"), (*at, "labels"))
        external = spec.get("external")
        return VolumeSpec(
            name=name,
            driver=self.string(spec.get("driver"), (*at, "driver")) or "local",
            driver_opts=tuple(sorted((k, v or "") for k, v in opts.items())),
            labels=tuple(sorted((k, v or "") for k, v in labels.items())),
            external=bool(external)
            if isinstance(external, dict)
            else bool(self.boolean(external, (*at, "external"))),
            origin=self.r.key_origin(at) or self.r.origin(at),
        )


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "null" if value is None else f"a {type(value).__name__}"


def _position(diagnostic: Diagnostic) -> tuple[int, int]:
    origin = diagnostic.origin
    return (origin.line, origin.col) if origin else (0, 0)

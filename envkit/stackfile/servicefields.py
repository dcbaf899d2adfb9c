"""The Compose spellings of each service field, normalized into envkit.model values.

One function per field, each ``(reader, value, path)``: it reads through a
:class:`~envkit.stackfile.treereader.TreeReader`, which collects the problems. The decisions are
listed in :mod:`envkit.stackfile.normalize`'s docstring.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

from envkit.errors import DocPath
from envkit.limits import MAX_RETRIES, MIN_HEALTH_DURATION_S
from envkit.model import BuildSpec, Condition, Dependency, Healthcheck, Mount, PortSpec
from envkit.stackfile.envfiles import read_env_files
from envkit.stackfile.rendered import is_secret_name
from envkit.stackfile.syntax import (
    bind_source,
    parse_duration,
    parse_mount,
    parse_port,
    parse_port_long,
    parse_size,
    parse_tmpfs,
)
from envkit.stackfile.treereader import TreeReader

__all__ = [
    "build",
    "command",
    "depends_on",
    "env_file",
    "environment",
    "extra_hosts",
    "healthcheck",
    "labels",
    "mounts",
    "ports",
    "tmpfs",
]

_HEALTH_KINDS = ("CMD", "CMD-SHELL", "NONE")


def command(reader: TreeReader, value: Any, path: DocPath) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            reader.fail(
                "invalid-command",
                f"{{value}} cannot be split into words: {exc}",
                path,
                value=value,
                hint="close the quote, or write a list",
            )
            return None
    if isinstance(value, list):
        return reader.strings(value, path)
    reader.wrong_type("a string or a list", value, path)
    return None


def environment(
    reader: TreeReader, svc: dict[str, Any], at: DocPath
) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    values: dict[str, str] = {}
    from_files: set[str] = set()
    for name, text in env_file(reader, svc.get("env_file"), (*at, "env_file")).items():
        values[name] = text
        from_files.add(name)
        if text:
            reader.extra_sensitive.add(text)
    declared = reader.pairs(
        svc.get("environment"), (*at, "environment"), sep="=", what="environment"
    )
    for name, declared_value in declared.items():
        # null / a bare name: pass through from the env context, or leave out (Compose)
        passed = reader.rendered.env.get(name) if declared_value is None else declared_value
        if passed is None:
            values.pop(name, None)
        else:
            values[name] = passed
    sensitive = {
        name
        for name, value in values.items()
        if name in from_files or is_secret_name(name) or reader.rendered.is_sensitive(value)
    }
    return tuple(sorted(values.items())), frozenset(sensitive)


def env_file(reader: TreeReader, value: Any, path: DocPath) -> dict[str, str]:
    """The variables of a service's env files. Written in a Compose file, they are read
    with Compose's rules: ``${VAR}`` in unquoted and double-quoted values is interpolated
    from the project's variables (then the files' own), a bare ``NAME`` line takes the
    project's value (:mod:`envkit.stackfile.composeenv`); in an envkit file, literally."""
    rendered = reader.rendered
    origin = rendered.origin(path)
    written_in_compose = (
        rendered.document is not None
        and origin is not None
        and origin.file in rendered.document.compose_files
    )
    lookup = rendered.compose_variables if written_in_compose else None
    files = read_env_files(value, path, rendered.directory, compose_lookup=lookup)
    for problem in files.problems:
        reader.fail(problem.code, problem.message, problem.path, hint=problem.hint)
    return {name: found.value for name, found in files.values.items()}


def labels(reader: TreeReader, value: Any, path: DocPath) -> dict[str, str | None]:
    return reader.pairs(value, path, sep="=", what="label")


def ports(reader: TreeReader, value: Any, path: DocPath) -> tuple[PortSpec, ...]:
    out: list[PortSpec] = []
    for i, item in enumerate(reader.items(value, path)):
        parser = parse_port_long if isinstance(item, dict) else parse_port
        specs = reader.parse("invalid-port", parser, item, (*path, i))
        out.extend(specs or ())
    return tuple(out)


def mounts(reader: TreeReader, value: Any, path: DocPath) -> tuple[Mount, ...]:
    out: list[Mount] = []
    for i, item in enumerate(reader.items(value, path)):
        mount = reader.parse(
            "invalid-volume", lambda v: parse_mount(v, reader.rendered.directory), item, (*path, i)
        )
        if mount is not None:
            out.append(mount)
    return tuple(out)


def tmpfs(reader: TreeReader, value: Any, path: DocPath) -> tuple[str, ...]:
    out = reader.strings(value, path)
    for i, entry in enumerate(out):
        at = (*path, i) if isinstance(value, list) else path
        reader.parse("invalid-volume", parse_tmpfs, entry, at)
    return out


def depends_on(reader: TreeReader, value: Any, path: DocPath) -> tuple[Dependency, ...]:
    deps: list[Dependency] = []
    if isinstance(value, list):
        deps = [Dependency(s) for s in reader.strings(value, path)]
    elif isinstance(value, dict):
        for name, spec in value.items():
            body = reader.mapping(spec, (*path, name))
            condition = body.get("condition", "service_started")
            restart = bool(reader.boolean(body.get("restart"), (*path, name, "restart")))
            try:
                deps.append(Dependency(str(name), Condition(condition), restart))
            except ValueError:
                reader.fail(
                    "invalid-depends-on",
                    "{value} is not a condition",
                    (*path, name, "condition"),
                    value=condition,
                    hint="use service_started, service_healthy or service_completed_successfully",
                )
    elif value is not None:
        reader.wrong_type("a list or a mapping", value, path)
    return tuple(sorted(deps, key=lambda d: d.service))


def healthcheck(reader: TreeReader, value: Any, path: DocPath) -> Healthcheck | None:
    if value is None:
        return None
    spec = reader.mapping(value, path)
    if reader.boolean(spec.get("disable"), (*path, "disable")):
        return Healthcheck(("NONE",))
    test = spec.get("test")
    words: tuple[str, ...] | None = None
    if isinstance(test, str):
        words = ("CMD-SHELL", test)
    elif isinstance(test, list) and test:
        words = reader.strings(test, (*path, "test"))
        kind = words[0] if words else ""
        if kind not in _HEALTH_KINDS or (kind == "NONE") != (len(words) == 1):
            reader.fail(
                "invalid-healthcheck",
                "the test must start with CMD, CMD-SHELL or NONE",
                (*path, "test"),
                hint="e.g. [CMD, mysqladmin, ping] or a shell string",
            )
            return None
    else:
        reader.fail(
            "invalid-healthcheck",
            "a healthcheck needs a test",
            path,
            hint="add 'test: [CMD, ...]', or 'disable: true'",
        )
        return None
    if words == ("NONE",):
        return Healthcheck(words)
    durations = {
        key: reader.optional("invalid-duration", parse_duration, spec.get(key), (*path, key))
        for key in ("interval", "timeout", "start_period", "start_interval")
    }
    for key, seconds in list(durations.items()):
        if seconds and seconds < MIN_HEALTH_DURATION_S:  # the engine refuses 0 < d < 1ms
            reader.fail("invalid-duration", "{value} is shorter than 1ms", (*path, key),
                        value=spec.get(key), hint="write 0 (the default) or at least 1ms")  # fmt: skip
            durations[key] = None
    return Healthcheck(
        test=words,
        interval_s=durations["interval"],
        timeout_s=durations["timeout"],
        start_period_s=durations["start_period"],
        start_interval_s=durations["start_interval"],
        retries=reader.number(
            spec.get("retries"), (*path, "retries"), integer=True, maximum=MAX_RETRIES
        ),
    )


def extra_hosts(reader: TreeReader, value: Any, path: DocPath) -> tuple[tuple[str, str], ...]:
    if isinstance(value, dict):
        pairs = {str(k): reader.scalar_text(v) for k, v in value.items()}
    else:
        pairs = {}
        for i, item in enumerate(reader.items(value, path)):
            text = str(item)
            sep = "=" if "=" in text else ":"
            host, found, ip = text.partition(sep)
            if not (found and host and ip):
                reader.fail(
                    "invalid-extra-host",
                    "{value} is not HOST:IP",
                    (*path, i),
                    value=item,
                    hint="write host:ip or host=ip",
                )
                continue
            pairs[host] = ip
    return tuple(sorted((h, ip.strip("[]")) for h, ip in pairs.items()))


# What `docker tag` takes: [HOST[:PORT]/]PATH[:TAG], path components in lowercase.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG_REF = re.compile(
    rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[\w][\w.-]{{0,127}})?"
)

# Compose build keys that need BuildKit, which the engine's classic builder is not.
_BUILDKIT_ONLY = ("platforms", "ssh", "secrets", "additional_contexts", "cache_to")


def build(reader: TreeReader, value: Any, path: DocPath) -> BuildSpec | None:
    if value is None:
        return None
    spec = {"context": value} if isinstance(value, str) else reader.mapping(value, path)
    for key in _BUILDKIT_ONLY:
        if spec.get(key) not in (None, [], {}):
            reader.fail(
                "needs-buildkit",
                f"build.{key} needs BuildKit, and envkit builds with the engine's classic "
                "builder (the Docker API's /build)",
                (*path, key),
                hint=f"build the image with `docker buildx build` and name it in image: "
                f"(with pull_policy: never), or remove build.{key}",
            )
    context = reader.string(spec.get("context", "."), (*path, "context")) or "."
    if "://" not in context and not context.startswith("git@"):
        context = bind_source(context, reader.rendered.directory)
    args = reader.pairs(spec.get("args"), (*path, "args"), sep="=", what="build-arg")
    resolved = {k: v if v is not None else reader.rendered.env.get(k) for k, v in args.items()}
    labels = reader.pairs(spec.get("labels"), (*path, "labels"), sep="=", what="label")
    inline = reader.string(spec.get("dockerfile_inline"), (*path, "dockerfile_inline"))
    if inline is not None and spec.get("dockerfile") is not None:
        reader.fail(
            "invalid-build",
            "build has both dockerfile and dockerfile_inline",
            (*path, "dockerfile_inline"),
            hint="keep one: dockerfile names a file, dockerfile_inline is its text",
        )
    tags = reader.strings(spec.get("tags"), (*path, "tags"))
    for i, tag in enumerate(tags):
        if not _TAG_REF.fullmatch(tag):
            reader.fail(
                "invalid-build",
                "{value} is not an image name to tag the build with",
                (*path, "tags", i),
                value=tag,
                hint="write [REGISTRY/]NAME[:TAG] in lowercase, e.g. shop/app:1.2",
            )
    shm = spec.get("shm_size")
    return BuildSpec(
        context=context,
        dockerfile=reader.string(spec.get("dockerfile"), (*path, "dockerfile")) or "Dockerfile",
        args=tuple(sorted((k, v) for k, v in resolved.items() if v is not None)),
        target=reader.string(spec.get("target"), (*path, "target")),
        dockerfile_inline=inline,
        tags=tags,
        labels=tuple(sorted((k, v or "") for k, v in labels.items())),
        network=reader.string(spec.get("network"), (*path, "network")),
        shm_size=reader.optional("invalid-size", parse_size, shm, (*path, "shm_size")),
        extra_hosts=extra_hosts(reader, spec.get("extra_hosts"), (*path, "extra_hosts")),
        cache_from=reader.strings(spec.get("cache_from"), (*path, "cache_from")),
        no_cache=bool(reader.boolean(spec.get("no_cache"), (*path, "no_cache"))),
        pull=bool(reader.boolean(spec.get("pull"), (*path, "pull"))),
    )

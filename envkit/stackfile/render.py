"""Render one environment of a stack: variables, env files, overrides, Jinja2 per string.

``render(doc, "dev")`` turns the parsed stack file into the tree of that environment:
``{"stack": ..., "services": ..., "volumes": ...}`` with every template rendered. The
structure is fixed by the YAML before any template runs, so a value can never add or
remove keys (a password containing ``": "`` or a newline stays one string).

Decisions (the documented contract):

- **Variable precedence**, lowest to highest: stack ``vars``, the environment's ``vars``,
  ``--var k=v``. Variables are not templated themselves. A ``--var`` value that is exactly
  an integer literal (``3306``, ``-1``; no leading zeros) becomes an ``int`` and ``true`` /
  ``false`` become ``bool``, so ``--var port=3310`` behaves like ``vars: {port: 3310}``;
  anything else stays a string (``007`` and ``1.5`` stay strings).
- **env context**: the process environment overlaid by the environment's ``env_file``
  files, later files overriding earlier ones; **the process environment wins** over env
  files (as in Docker Compose), so CI can override a value without editing files. Entries
  are a path or ``{path, required}``; paths are relative to the stack file's folder; a
  missing file is an error unless ``required: false``. Files are read with python-dotenv
  without ``${VAR}`` interpolation; a bare ``NAME`` line (no ``=``) is ignored.
- **Overrides** ``environments.E.services.S`` merge onto ``services.S`` like RFC 7386 (JSON
  Merge Patch): mappings merge recursively, lists and scalars replace, ``null`` deletes a
  key. An empty override (``S:`` with nothing under it) changes nothing.
- **Templates**: every string in ``services`` and ``volumes`` containing ``{{``, ``{%`` or
  ``{#`` is rendered in a sandbox with undefined names as errors. A string that is one
  ``{{ expr }}`` keeps the expression's type if it is a string, number, boolean or null.
  Context: each variable by name, ``vars``, ``env``, ``environment``, ``instance``,
  ``stack``; those five reserved names win over variables of the same name (still
  reachable as ``vars.NAME``). All template errors are reported at once.
- **Secrets**: sensitive are every value read from an env file, every variable (and env
  name) matching PASSWORD|PASSWD|SECRET|TOKEN|KEY|CREDENTIAL|PRIVATE (case-insensitive), and
  every name listed under the stack's top-level ``sensitive:``; a rendered string that used
  or contains a sensitive value is sensitive too. Every non-empty value counts, even one or
  two characters long: over-masking output is the price of never printing a secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from envkit.errors import Diagnostic, DocPath, Origin, StackError
from envkit.hints import did_you_mean, kind_of
from envkit.stackfile.dialect import environments_of, stack_name
from envkit.stackfile.envfiles import read_env_files
from envkit.stackfile.profiles import active_profiles, enabled_services
from envkit.stackfile.rendered import (
    MISSING,
    Document,
    EnvFileValue,
    Rendered,
    Variable,
    get_path,
    is_secret_name,
    locate,
)
from envkit.stackfile.templating import Templater

__all__ = [
    "compose_directory",
    "render",
]

_INT_LITERAL = re.compile(r"-?(?:0|[1-9][0-9]*)")


def merge(base: Any, override: Any) -> Any:
    """RFC 7386 merge: mappings merge recursively, null deletes, anything else replaces."""
    if not isinstance(override, dict):
        return override
    out = dict(base) if isinstance(base, dict) else {}
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out


def parse_cli_value(text: str) -> str | int | bool:
    """``--var`` values: integer literals become int, ``true``/``false`` bool, else str."""
    if _INT_LITERAL.fullmatch(text):
        return int(text)
    return {"true": True, "false": False}.get(text, text)


class _Collector:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.diagnostics: list[Diagnostic] = []

    def add(self, code: str, message: str, path: DocPath, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, path, self.doc.origin(path), hint))

    def mapping(self, value: Any, path: DocPath) -> dict[str, Any]:
        if value is None or value is MISSING:
            return {}
        if isinstance(value, dict):
            return value
        self.add("invalid-type", f"expected a mapping, got {kind_of(value)}", path)
        return {}


def _leaves(value: Any) -> list[str]:
    """String forms of the scalars in a value (bool and null are never secrets)."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _leaves(v)]
    if isinstance(value, list):
        return [s for v in value for s in _leaves(v)]
    if value is None or isinstance(value, bool):
        return []
    text = str(value)
    return [text] if text else []


def render(
    doc: Document,
    environment: str,
    *,
    cli_vars: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    instance: str | None = None,
    profiles: Sequence[str] = (),
    env_files: Sequence[str] = (),
) -> Rendered:
    """Render ``environment`` of ``doc``; raise StackError with every problem found.
    ``profiles``: the ``--profile`` options (``envkit.stackfile.profiles``); ``env_files``:
    ``--env-file``, instead of the Compose project's ``.env``."""
    data = doc.data
    out = _Collector(doc)
    env_def = _environment(doc, out, environment)
    marked = {str(n) for n in data.get("sensitive") or () if isinstance(n, str | int)}

    def secret(name: str) -> bool:
        return name in marked or is_secret_name(name)

    variables = _variables(doc, out, environment, cli_vars or {}, secret)
    process = dict(os.environ if environ is None else environ)
    env_vars = _env_file_values(doc, out, env_def, environment)
    env = {name: found.value for name, found in env_vars.items()}
    env.update(process)  # the process environment wins over the env files

    sensitive: set[str] = {found.value for found in env_vars.values() if found.value}
    for var in variables.values():
        if var.sensitive:
            sensitive.update(_leaves(var.value))
    secret_env = {name for name in env if secret(name) or name in env_vars}
    sensitive.update(env[name] for name in secret_env if env[name])

    merged_services = _services(data, out, env_def, environment, profiles, env)
    stack = stack_name(data, doc.directory)
    if not stack:
        out.add(
            "missing-stack",
            f"the stack has no name, and its folder's name '{doc.directory.name}' has no "
            "letter or digit to make one",
            ("stack",),
            "add 'name: NAME' (Compose) or 'stack: NAME' at the top of the file",
        )
    templater = Templater(
        {name: var.value for name, var in variables.items()},
        env=env,
        reserved={"environment": environment, "instance": instance, "stack": stack},
        secret_vars={n for n, v in variables.items() if v.sensitive},
        secret_env=secret_env,
        sensitive=sensitive,
        environment=environment,
    )

    def rendered_origin(path: DocPath) -> Origin | None:
        return locate(doc, environment, path, key=False)

    def written_in_compose(path: DocPath) -> bool:
        origin = rendered_origin(path)
        return origin is not None and origin.file in doc.compose_files

    # Each string is read by the language of the file it was written in: Compose's ${VAR}
    # in a Compose file, Jinja2 in an envkit stack file (envkit.stackfile.composevars).
    parts: dict[str, Any] = {"services": merged_services}
    parts.update({k: data.get(k) or {} for k in ("volumes", "networks", "secrets", "configs")})
    warnings: tuple[Diagnostic, ...] = ()
    compose_variables: Mapping[str, str] | None = None
    if doc.compose_files:  # Compose's interpolation, imported for Compose files only
        from envkit.stackfile.composevars import interpolate_compose, project_variables

        compose_vars = project_variables(compose_directory(doc), process, env_files)
        compose_variables = compose_vars.values
        interpolated = interpolate_compose(
            parts, compose_vars, rendered_origin, written_in_compose, secret
        )
        parts = interpolated.parts
        out.diagnostics.extend((*compose_vars.problems, *interpolated.problems))
        warnings = interpolated.warnings
        sensitive.update(interpolated.secrets)
    engine_def = env_def.get("engine")
    if not (isinstance(engine_def, dict) and "swarm" in engine_def):
        warnings += tuple(_swarm_only(parts["services"], rendered_origin))
    tree: dict[str, Any] = {
        "stack": stack,
        **{
            kind: templater.walk(part, (kind,), rendered_origin, verbatim=written_in_compose)
            for kind, part in parts.items()
        },
    }
    out.diagnostics.extend(templater.diagnostics)
    if out.diagnostics:
        raise StackError(out.diagnostics)
    return Rendered(
        stack=stack,
        environment=environment,
        instance=instance,
        tree=tree,
        sensitive_values=frozenset(s for s in sensitive | templater.tainted if s),
        variables=_explained(variables, env_vars, process, templater.env_used, secret_env),
        source=doc.display,
        directory=doc.directory,
        env=env,
        document=doc,
        warnings=warnings,
        compose_variables=compose_variables,
    )


def _environment(doc: Document, out: _Collector, environment: str) -> dict[str, Any]:
    """The environment's definition, or StackError naming the environments there are."""
    environments = out.mapping(environments_of(doc.data), ("environments",))
    if environment not in environments:
        names = [str(n) for n in environments]
        hint = " ".join(
            filter(
                None,
                [
                    did_you_mean(environment, names),
                    f"environments: {', '.join(names)}" if names else "add it under environments",
                ],
            )
        )
        origin = doc.key_origin(("environments",)) or doc.origin(("environments",))
        raise StackError.single(
            "unknown-environment",
            f"unknown environment '{environment}'",
            path=("environments",),
            origin=origin,
            hint=hint,
        )
    return out.mapping(environments[environment], ("environments", environment))


def _variables(
    doc: Document,
    out: _Collector,
    environment: str,
    cli_vars: Mapping[str, str],
    secret: Callable[[str], bool],
) -> dict[str, Variable]:
    """The variables, lowest layer first, each later layer overriding: stack vars, the
    environment's vars, ``--var``."""
    variables: dict[str, Variable] = {}
    layers: list[tuple[str, DocPath]] = [
        ("stack vars", ("vars",)),
        ("environment vars", ("environments", environment, "vars")),
    ]
    for layer, at in layers:
        for name, value in out.mapping(get_path(doc.data, at), at).items():
            name = str(name)
            variables[name] = Variable(name, value, layer, doc.origin((*at, name)), secret(name))
    for name, text in cli_vars.items():
        variables[name] = Variable(name, parse_cli_value(text), "--var", None, secret(name))
    return variables


def _env_file_values(
    doc: Document, out: _Collector, env_def: Mapping[str, Any], environment: str
) -> dict[str, EnvFileValue]:
    """The environment's ``env_file`` files, read (problems collected in ``out``)."""
    files = read_env_files(
        env_def.get("env_file"),
        ("environments", environment, "env_file"),
        doc.directory,
        names_relative_to=os.path.dirname(doc.display),
        with_reasons=True,
    )
    for problem in files.problems:
        out.add(problem.code, problem.message, problem.path, problem.hint)
    return dict(files.values)


def _services(
    data: Mapping[str, Any],
    out: _Collector,
    env_def: Mapping[str, Any],
    environment: str,
    profiles: Sequence[str],
    env: Mapping[str, str],
) -> dict[str, Any]:
    """The services with the environment's overrides merged on, less the ones whose
    profiles are not active."""
    services = out.mapping(data.get("services"), ("services",))
    overrides_at: DocPath = ("environments", environment, "services")
    overrides = out.mapping(env_def.get("services"), overrides_at)
    merged = dict(services)
    for name, override in overrides.items():
        if name not in services:
            out.add(
                "unknown-service",
                f"environment '{environment}' overrides service '{name}', which does not exist",
                (*overrides_at, name),
                did_you_mean(str(name), [str(s) for s in services]) or "define it under services",
            )
            continue
        if override is not None:
            merged[name] = merge(services[name], override)
    active = active_profiles(profiles, env, env_def.get("profiles"))
    merged, disabled = enabled_services(merged, active)
    for off in disabled:
        at = ("services", off.service, "depends_on", off.entry)
        out.add("profile-disabled", off.message, at, off.hint)
    return merged


def _explained(
    variables: Mapping[str, Variable],
    env_vars: Mapping[str, EnvFileValue],
    process: Mapping[str, str],
    env_used: set[str] | frozenset[str],
    secret_env: set[str],
) -> tuple[Variable, ...]:
    """``render --explain``: each variable's winning value, layer and origin."""
    explained = list(variables.values())
    for name, found in env_vars.items():
        if name in process:  # the process environment won over the env file
            explained.append(
                Variable(f"env.{name}", process[name], "process environment", None, True)
            )
        else:
            explained.append(Variable(f"env.{name}", found.value, "env file", found.origin, True))
    for name in sorted(env_used - env_vars.keys()):
        if name in process:
            explained.append(
                Variable(f"env.{name}", process[name], "process environment", None,
                         name in secret_env)
            )  # fmt: skip
    return tuple(explained)


def compose_directory(doc: Document) -> Path:
    """The Compose project's folder: that of the first Compose file read (its .env lives
    there), else the stack file's."""
    if not doc.compose_files or doc.display in doc.compose_files:
        return doc.directory
    return Path(sorted(doc.compose_files)[0]).parent


def _swarm_only(services: Any, origin_of: Callable[[DocPath], Origin | None]) -> list[Diagnostic]:
    """A Swarm-only ``deploy`` key in an environment on one engine: a located warning."""
    from envkit.stackfile.swarmonly import swarm_only_keys

    found: list[Diagnostic] = []
    for name, body in (services or {}).items() if isinstance(services, dict) else ():
        deploy = body.get("deploy") if isinstance(body, dict) else None
        for path in swarm_only_keys(deploy, ("services", str(name), "deploy")):
            found.append(
                Diagnostic(
                    "swarm-only",
                    f"'{path[-1]}' applies to a Docker Swarm; this environment runs on one "
                    "engine, which ignores it",
                    path,
                    origin_of(path),
                    "deploy this environment to a Swarm with engine: {swarm: MANAGER}; on one "
                    "engine only replicas, resources.limits and restart_policy apply",
                )
            )
    return found

"""``envkit validate`` and ``envkit render``: the stack file alone, no engine."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from envkit.canonical import service_fields
from envkit.cli.commands.common import read_stack, resolve_env, stack_path
from envkit.errors import SENSITIVE, Diagnostic, StackError
from envkit.model import DesiredState, pull_policy_text
from envkit.stackfile.pipeline import environments, resolve

if TYPE_CHECKING:
    from envkit.cli.console import Console

RENDER_FORMAT_VERSION = 1
VALIDATE_FORMAT_VERSION = 1


def cmd_validate(args: argparse.Namespace, console: Console) -> int:
    path = stack_path(args)
    problems: list[Diagnostic] = []
    checked: list[str] = []
    try:
        doc = read_stack(args)
    except StackError as exc:
        problems.extend(exc.diagnostics)
    else:
        known = environments(doc)
        wanted = list(args.envs) or known
        for env in wanted:
            try:
                resolved = resolve(
                    doc,
                    env,
                    cli_vars=dict(args.var),
                    profiles=args.profile,
                    env_files=args.env_file,
                )
                console.secrets.update(resolved.desired.sensitive_values)
                for warning in resolved.rendered.warnings:
                    console.err(warning.render("warning"))
                if args.strict:
                    from envkit.stackfile.hostaccess import strict_diagnostics

                    strict = strict_diagnostics(resolved.desired, resolved.rendered.origin)
                    problems.extend(d for d in strict if d not in problems)
                    if strict:
                        continue
                checked.append(env)
            except StackError as exc:
                problems.extend(d for d in exc.diagnostics if d not in problems)
    if args.json:
        console.out_json(
            {
                "format_version": VALIDATE_FORMAT_VERSION,
                "file": path,
                "valid": not problems,
                "environments": checked,
                "errors": [d.to_json() for d in problems],
            }
        )
    elif problems:
        for d in problems:
            console.err(d.render())
        console.err(f"{path}: {len(problems)} error{'s' if len(problems) != 1 else ''}")
    else:
        envs = ", ".join(checked) if checked else "no environments"
        console.out(f"{path}: valid ({envs})")
    return 2 if problems else 0


def desired_json(desired: DesiredState) -> dict[str, Any]:
    """The resolved desired state as data, sensitive values shown as ``(sensitive)``."""
    services: dict[str, Any] = {}
    for svc in desired.services:
        spec = service_fields(svc)
        spec["environment"] = {
            k: (SENSITIVE if k in svc.sensitive_env else v) for k, v in svc.environment
        }
        spec["replicas"] = svc.replicas
        spec["depends_on"] = {d.service: d.condition.value for d in svc.depends_on}
        spec["pull_policy"] = pull_policy_text(svc)
        services[svc.name] = spec
    return {
        "format_version": RENDER_FORMAT_VERSION,
        "stack": desired.stack,
        "environment": desired.environment,
        "instance": desired.instance,
        "project": desired.project,
        "network": desired.network,
        "services": services,
        "volumes": {
            v.name: {
                "name": desired.volume_name(v.name),
                "driver": v.driver,
                "driver_opts": dict(v.driver_opts),
                "external": v.external,
            }
            for v in desired.volumes
        },
    }


def cmd_render(args: argparse.Namespace, console: Console) -> int:
    resolved = resolve_env(args, console)
    if args.explain:
        rows: list[tuple[str, ...]] = [("VARIABLE", "VALUE", "LAYER", "FROM")]
        for var in resolved.rendered.variables:
            value = SENSITIVE if var.sensitive else json.dumps(var.value)
            rows.append((var.name, value, var.layer, str(var.origin) if var.origin else "-"))
        console.out(table(rows))
        return 0
    data = desired_json(resolved.desired)
    if args.json:
        console.out_json(data)
    else:
        import yaml

        console.out(yaml.safe_dump(data, sort_keys=False, default_flow_style=False).rstrip())
    return 0


def table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )

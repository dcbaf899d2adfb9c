"""How a :class:`~envkit.reconcile.changes.Plan` is shown: text for people, JSON for machines. No I/O.

Both are rendered from the same records (:class:`~envkit.reconcile.changes.Change` and its
:class:`~envkit.reconcile.spec_diff.FieldDiff` list). Sensitive values are masked in the
records already, and every value in ``plan.desired.sensitive_values`` is replaced by
``(sensitive)`` in both outputs again, as a last guard.

Text (:func:`plan_text`, no trailing newline; ``--detailed-exitcode`` does not change it)::

    envkit will perform the following actions on shop-dev:
    (+ create, -/+ recreate, > start, - remove)

      - container shop-dev-old-1 (old)  # service removed from the stack
      + network shop-dev
      + volume shop-dev_data
      + container shop-dev-db-1 (db)  # image mysql:5.7 will be pulled
      -/+ container shop-dev-web-1 (web)
          ~ environment.MYSQL_ROOT_PASSWORD: (sensitive) -> (sensitive)  # forces recreate
          ~ ports[0]: "127.0.0.1:3307->3306/tcp" -> "127.0.0.1:3308->3306/tcp"  # forces recreate
          ~ mem_limit: "64m" -> "128m"  # forces recreate
          # image web:1 changed: sha256:aaaaaaaaaaaa -> sha256:cccccccccccc
      > container shop-dev-web-2 (web)  # exited, will be started

    error[port-in-use]: host port 127.0.0.1:3308/tcp for web (...) is held by ...
      hint: ...

    warning[init-env-changed]: service web: environment MYSQL_ROOT_PASSWORD changes, but ...
      hint: ...

    Plan: 2 to create, 1 to recreate, 1 to start, 1 to remove, 3 unchanged.

Changes appear in plan order; unchanged containers are only counted. The changed fields of a
recreate are listed under it (values quoted as JSON, ``(unset)`` for a missing one, sizes
and durations as written in a stack file), then its other reasons as ``#`` lines; the
reasons of other changes follow ``#`` on the same line. With ``verbose`` a container to
create also lists its main attributes (image, command, ports, volumes, environment with
sensitive values masked, depends_on). With nothing to change and no conflict the whole text
is ``No changes. shop-dev matches the stack.`` The counts include networks and volumes to
create; "unchanged" counts containers.

JSON (:func:`plan_json`), format version 2; new keys may be added within a version,
never removed or renamed::

    {
      "format_version": 2,
      "project": "shop-dev", "stack": "shop", "environment": "dev", "instance": null,
      "has_changes": true,
      "changes": [                      # plan order, unchanged containers included
        {"kind": "container" | "network" | "volume",
         "name": "shop-dev-web-1",     # the engine object's name
         "action": "create" | "recreate" | "start" | "remove" | "noop",
         "service": "web" | null,      # containers only
         "replica": 1 | null,          # containers only
         "diffs": [                    # recreate only: the changed fields
           {"path": "environment.DEBUG", "before": "0", "after": "1",
            "sensitive": false, "forces_recreate": true}
         ],
         "reasons": ["image web:1 will be pulled"],   # reasons that are not one field
         "carried_volumes": [          # recreates only: anonymous volumes kept
           {"target": "/var/lib/mysql", "volume": "3f2a..."}]}
      ],
      "conflicts": [
        {"code": "port-in-use" | "name-taken" | "image-missing" | "volume-missing",
         "message": "...", "hint": "..." | null, "service": "web" | null}
      ],
      "warnings": [                     # never a stop (envkit.reconcile.initenv)
        {"code": "init-env-changed", "message": "...", "hint": "..." | null, "service": "web"}
      ],
      "summary": {"create": 2, "recreate": 1, "start": 1, "remove": 1, "unchanged": 3}
    }

``before``/``after`` are null when the field is unset, strings, numbers, booleans or lists;
a masked value is ``"(sensitive)"`` with ``"sensitive": true``. Version 1 had no ``diffs``
and listed each changed field as a ``"path: old -> new"`` string in ``reasons``.
"""

from __future__ import annotations

from typing import Any

from envkit.errors import SENSITIVE, redact
from envkit.model import ServiceSpec
from envkit.reconcile.changes import Action, Change, Conflict, Plan
from envkit.reconcile.plan import PlanWarning
from envkit.reconcile.spec_diff import FieldDiff, format_port, mount_text, show_value

__all__ = ["FORMAT_VERSION", "LEGEND", "plan_json", "plan_text", "summary_line"]

FORMAT_VERSION = 2
LEGEND = "(+ create, -/+ recreate, > start, - remove)"

_ACTION_NAMES = {
    Action.CREATE: "create",
    Action.RECREATE: "recreate",
    Action.START: "start",
    Action.REMOVE: "remove",
    Action.NOOP: "noop",
}
_COLORS = {
    Action.CREATE: "32",  # green
    Action.RECREATE: "33",  # yellow
    Action.START: "36",  # cyan
    Action.REMOVE: "31",  # red
}


def _paint(text: str, code: str, color: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if color else text


def summary_line(plan: Plan) -> str:
    """``Plan: 2 to create, 1 to recreate, 1 to start, 1 to remove, 3 unchanged.``"""
    s = plan.summary
    return (
        f"Plan: {s.create} to create, {s.recreate} to recreate, {s.start} to start, "
        f"{s.remove} to remove, {s.unchanged} unchanged."
    )


def _diff_line(diff: FieldDiff, color: bool) -> str:
    tilde = _paint("~", _COLORS[Action.RECREATE], color)
    line = f"      {tilde} {diff.path}: {show_value(diff.before)} -> {show_value(diff.after)}"
    return line + ("  # forces recreate" if diff.forces_recreate else "")


def _attribute_lines(spec: ServiceSpec) -> list[str]:
    """A container to create, in brief: what ``plan -v`` shows under it."""
    env = ", ".join(
        f"{k}={SENSITIVE if k in spec.sensitive_env else show_value(v)}"
        for k, v in spec.environment
    )
    deps = [f"{d.service} ({d.condition.value})" for d in spec.depends_on]
    attributes = [
        ("image", show_value(spec.image)),
        ("command", show_value(spec.command) if spec.command is not None else ""),
        ("ports", show_value(tuple(format_port(p) for p in spec.ports)) if spec.ports else ""),
        ("volumes", show_value(tuple(mount_text(m) for m in spec.mounts)) if spec.mounts else ""),
        ("environment", env),
        ("depends_on", show_value(tuple(deps)) if deps else ""),
    ]
    return [f"      {name}: {value}" for name, value in attributes if value]


def _change_lines(change: Change, color: bool, verbose: bool) -> list[str]:
    symbol = _paint(change.action.value, _COLORS[change.action], color)
    head = f"  {symbol} {change.kind.value} {change.name}"
    if change.service is not None:
        head += f" ({change.service})"
    if change.action is Action.RECREATE:
        return [
            head,
            *(_diff_line(diff, color) for diff in change.diffs),
            *(f"      # {reason}" for reason in change.reasons),
            *(
                f"      = keeps anonymous volume {target} ({volume[:12]})"
                for target, volume in change.carried
            ),
        ]
    if change.reasons:
        head += "  # " + "; ".join(change.reasons)
    if verbose and change.action is Action.CREATE and change.after is not None:
        return [head, *_attribute_lines(change.after)]
    return [head]


def _conflict_lines(conflict: Conflict, color: bool) -> list[str]:
    lines = [f"{_paint(f'error[{conflict.code}]', '1;31', color)}: {conflict.message}"]
    if conflict.hint:
        lines.append(f"  hint: {conflict.hint}")
    return lines


def _warning_lines(warning: PlanWarning, color: bool) -> list[str]:
    lines = [f"{_paint(f'warning[{warning.code}]', '1;33', color)}: {warning.message}"]
    if warning.hint:
        lines.append(f"  hint: {warning.hint}")
    return lines


def plan_text(
    plan: Plan, *, color: bool = False, conflicts: bool = True, verbose: bool = False
) -> str:
    """The plan as people read it (see the module docstring). ``conflicts=False`` leaves
    the ``error[...]`` lines out, for a caller that reports them as an error itself;
    ``verbose`` lists the main attributes of each container to create."""
    secrets = plan.desired.sensitive_values
    shown = [c for c in plan.changes if c.action is not Action.NOOP]
    if not shown and not plan.conflicts:
        return redact(f"No changes. {plan.project} matches the stack.", secrets)
    blocks: list[list[str]] = []
    if shown:
        lines = [f"envkit will perform the following actions on {plan.project}:", LEGEND, ""]
        for change in shown:
            lines.extend(_change_lines(change, color, verbose))
        blocks.append(lines)
    if conflicts and plan.conflicts:
        blocks.append([line for c in plan.conflicts for line in _conflict_lines(c, color)])
    if plan.warnings:
        blocks.append([line for w in plan.warnings for line in _warning_lines(w, color)])
    blocks.append([_paint(summary_line(plan), "1", color)])
    return redact("\n\n".join("\n".join(block) for block in blocks), secrets)


def _redacted(value: Any, secrets: frozenset[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, list):
        return [_redacted(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _redacted(v, secrets) for k, v in value.items()}
    return value


def _json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def plan_json(plan: Plan) -> dict[str, Any]:
    """The plan as versioned, JSON-able data (see the module docstring)."""
    desired = plan.desired
    s = plan.summary
    data: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "project": plan.project,
        "stack": desired.stack,
        "environment": desired.environment,
        "instance": desired.instance,
        "has_changes": plan.has_changes,
        "changes": [
            {
                "kind": c.kind.value,
                "name": c.name,
                "action": _ACTION_NAMES[c.action],
                "service": c.service,
                "replica": c.replica,
                "diffs": [
                    {
                        "path": d.path,
                        "before": _json_value(d.before),
                        "after": _json_value(d.after),
                        "sensitive": d.sensitive,
                        "forces_recreate": d.forces_recreate,
                    }
                    for d in c.diffs
                ],
                "reasons": list(c.reasons),
                **(
                    {"carried_volumes": [{"target": t, "volume": v} for t, v in c.carried]}
                    if c.action is Action.RECREATE
                    else {}
                ),
            }
            for c in plan.changes
        ],
        "conflicts": [
            {"code": c.code, "message": c.message, "hint": c.hint, "service": c.service}
            for c in plan.conflicts
        ],
        "warnings": [
            {"code": w.code, "message": w.message, "hint": w.hint, "service": w.service}
            for w in plan.warnings
        ],
        "summary": {
            "create": s.create,
            "recreate": s.recreate,
            "start": s.start,
            "remove": s.remove,
            "unchanged": s.unchanged,
        },
    }
    result: dict[str, Any] = _redacted(data, desired.sensitive_values)
    return result

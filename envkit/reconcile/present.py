"""How a :class:`~envkit.reconcile.plan.Plan` is shown: text for people, JSON for machines. No I/O.

Every value in ``plan.desired.sensitive_values`` is replaced by ``(sensitive)`` in both.

Text (:func:`plan_text`, no trailing newline; ``--detailed-exitcode`` does not change it)::

    envkit will perform the following actions on shop-dev:

      - container shop-dev-old-1 (old)  # service removed from the stack
      + network shop-dev
      + volume shop-dev_data
      + container shop-dev-db-1 (db)  # image mysql:5.7 will be pulled
      -/+ container shop-dev-web-1 (web)
          ~ environment.MYSQL_ROOT_PASSWORD: (sensitive) -> (sensitive)
          ~ ports[0]: 127.0.0.1:3307->3306/tcp -> 127.0.0.1:3308->3306/tcp
      > container shop-dev-web-2 (web)  # exited, will be started

    error[port-in-use]: host port 127.0.0.1:3308/tcp for web (...) is held by ...
      hint: ...

    Plan: 2 to create, 1 to recreate, 1 to start, 1 to remove, 3 unchanged.

Changes appear in plan order; unchanged containers are only counted. The reasons of a
recreate are listed under it, those of other changes follow ``#`` on the same line. With
nothing to change and no conflict the whole text is ``No changes. shop-dev matches the
stack.`` The counts include networks and volumes to create; "unchanged" counts containers.

JSON (:func:`plan_json`), format version 1; new keys may be added within a version,
never removed or renamed::

    {
      "format_version": 1,
      "project": "shop-dev", "stack": "shop", "environment": "dev", "instance": null,
      "has_changes": true,
      "changes": [                      # plan order, unchanged containers included
        {"kind": "container" | "network" | "volume",
         "name": "shop-dev-web-1",     # the engine object's name
         "action": "create" | "recreate" | "start" | "remove" | "noop",
         "service": "web" | null,      # containers only
         "replica": 1 | null,          # containers only
         "reasons": ["environment.DEBUG: 0 -> 1"],
         "carried_volumes": [          # recreates only: anonymous volumes kept
           {"target": "/var/lib/mysql", "volume": "3f2a..."}]}
      ],
      "conflicts": [
        {"code": "port-in-use" | "name-taken" | "image-missing" | "volume-missing",
         "message": "...", "hint": "..." | null, "service": "web" | null}
      ],
      "summary": {"create": 2, "recreate": 1, "start": 1, "remove": 1, "unchanged": 3}
    }
"""

from __future__ import annotations

from typing import Any

from envkit.errors import redact
from envkit.reconcile.plan import Action, Change, Conflict, Plan

__all__ = ["FORMAT_VERSION", "plan_json", "plan_text", "summary_line"]

FORMAT_VERSION = 1

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


def _change_lines(change: Change, color: bool) -> list[str]:
    symbol = _paint(change.action.value, _COLORS[change.action], color)
    head = f"  {symbol} {change.kind.value} {change.name}"
    if change.service is not None:
        head += f" ({change.service})"
    if change.action is Action.RECREATE:
        tilde = _paint("~", _COLORS[Action.RECREATE], color)
        return [
            head,
            *(f"      {tilde} {reason}" for reason in change.reasons),
            *(
                f"      = keeps anonymous volume {target} ({volume[:12]})"
                for target, volume in change.carried
            ),
        ]
    if change.reasons:
        head += "  # " + "; ".join(change.reasons)
    return [head]


def _conflict_lines(conflict: Conflict, color: bool) -> list[str]:
    lines = [f"{_paint(f'error[{conflict.code}]', '1;31', color)}: {conflict.message}"]
    if conflict.hint:
        lines.append(f"  hint: {conflict.hint}")
    return lines


def plan_text(plan: Plan, *, color: bool = False, conflicts: bool = True) -> str:
    """The plan as people read it (see the module docstring). ``conflicts=False`` leaves
    the ``error[...]`` lines out, for a caller that reports them as an error itself."""
    secrets = plan.desired.sensitive_values
    shown = [c for c in plan.changes if c.action is not Action.NOOP]
    if not shown and not plan.conflicts:
        return redact(f"No changes. {plan.project} matches the stack.", secrets)
    blocks: list[list[str]] = []
    if shown:
        lines = [f"envkit will perform the following actions on {plan.project}:", ""]
        for change in shown:
            lines.extend(_change_lines(change, color))
        blocks.append(lines)
    if conflicts and plan.conflicts:
        blocks.append([line for c in plan.conflicts for line in _conflict_lines(c, color)])
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

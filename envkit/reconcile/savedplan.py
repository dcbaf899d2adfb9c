"""Saved plans, like Terraform's: ``envkit plan ENV -o plan.json`` then ``envkit up --plan
plan.json`` applies exactly that plan, or refuses when anything it was made from changed.

Because :func:`envkit.reconcile.plan.plan` is pure, a plan is fully determined by the desired
state and the observed state. So a saved plan does not carry a desired state to apply (which
would put every secret of the stack in a file): it carries keyed digests (HMAC-SHA256 under
envkit's secret key, :mod:`envkit.secretkey`) of

- the desired state, every field with its values (secrets included, as a digest only);
- what the engine reported (container ids, states, spec hashes, image ids; networks;
  volumes; the image ids behind each reference; ports held and names taken by others);
- the plan itself.

``up --plan`` renders the same stack file and environment again, observes the engine again
and plans again; it applies only when all three digests are equal, which by purity means
the plan about to run is the plan that was shown. Anything else — the stack file, a
variable, an env file, a container restarted or changed by hand, an image pulled — makes it
refuse with ``stale-plan``, naming what changed. Health is left out of the digest: it
changes by itself and never changes a plan.

The file also holds the plan as ``plan --json`` prints it (secrets masked), the stack file's
paths, the environment, the instance and the ``--var`` values (a sensitive one only as a
digest: give it again on ``up --plan``). It is written 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from enum import Enum
from typing import Any

from envkit.engine.base import ObservedState
from envkit.errors import EnvkitError, UsageError
from envkit.masking import SecretKey
from envkit.model import DesiredState
from envkit.reconcile.changes import Plan

__all__ = [
    "SAVED_PLAN_VERSION",
    "SavedPlan",
    "StalePlan",
    "check",
    "check_vars",
    "digests",
    "read_saved",
    "saved_document",
]

SAVED_PLAN_VERSION = 1
KIND = "envkit-saved-plan"


class StalePlan(EnvkitError):
    code = "stale-plan"


@dataclass(frozen=True, slots=True)
class SavedPlan:
    """What ``up --plan`` needs to render the same environment again and compare."""

    files: tuple[str, ...]  # the stack file(s), absolute, in -f order
    environment: str
    instance: str | None
    vars: Mapping[str, str]  # non-sensitive --var values
    sensitive_vars: Mapping[str, str]  # name -> keyed digest of the value
    engine: str
    desired: str
    observed: str
    plan: str


def _digest(key: SecretKey, data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key.key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _plain(value: Any) -> Any:
    """Every compared field of the desired state as plain data (positions left out: moving
    a line of the stack file does not change what would run)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _plain(getattr(value, f.name))
            for f in fields(value)
            if f.compare and f.name != "origin"
        }
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, frozenset):
        return sorted((_plain(v) for v in value), key=repr)
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _desired_data(desired: DesiredState) -> Any:
    return {"project": desired.project, "state": _plain(desired)}


def _observed_data(observed: ObservedState) -> Any:
    return {
        "containers": sorted(
            (c.id, c.name, c.state, c.spec_hash, c.image_id, c.exit_code)
            for c in observed.containers
        ),
        "networks": sorted((n.id, n.name) for n in observed.networks),
        "volumes": sorted(v.name for v in observed.volumes),
        "images": sorted(observed.images.items()),
        "foreign": sorted(observed.foreign_names.items()),
        "ports": sorted(repr(p) for p in observed.ports_in_use),
    }


def digests(
    key: SecretKey, desired: DesiredState, observed: ObservedState, plan_document: Any
) -> tuple[str, str, str]:
    """(desired, observed, plan) digests under ``key``."""
    return (
        _digest(key, _desired_data(desired)),
        _digest(key, _observed_data(observed)),
        _digest(key, plan_document),
    )


def saved_document(
    key: SecretKey,
    *,
    files: list[str],
    plan: Plan,
    observed: ObservedState,
    plan_document: dict[str, Any],
    cli_vars: Mapping[str, str],
    sensitive: frozenset[str],
    engine: str,
) -> dict[str, Any]:
    desired = plan.desired
    d, o, p = digests(key, desired, observed, plan_document)
    return {
        "format_version": SAVED_PLAN_VERSION,
        "kind": KIND,
        "files": files,
        "environment": desired.environment,
        "instance": desired.instance,
        "vars": {k: v for k, v in cli_vars.items() if v not in sensitive},
        "sensitive_vars": {k: _digest(key, v) for k, v in cli_vars.items() if v in sensitive},
        "engine": engine,
        "digests": {"desired": d, "observed": o, "plan": p},
        "plan": plan_document,
    }


def read_saved(text: str, where: str) -> SavedPlan:
    """Parse a saved plan file; UsageError (exit 2) for anything that is not one."""

    def bad(why: str) -> UsageError:
        return UsageError(
            f"{where}: not an envkit saved plan ({why})",
            code="bad-plan-file",
            hint="make one with 'envkit plan ENV -o FILE'",
        )

    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise bad("not JSON") from exc
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise bad("no 'kind: envkit-saved-plan'")
    if data.get("format_version") != SAVED_PLAN_VERSION:
        raise bad(f"format_version {data.get('format_version')!r}, this envkit reads 1")
    strings = {k: data.get(k) for k in ("environment", "engine")}
    files = data.get("files")
    digests_ = data.get("digests")
    if not all(isinstance(v, str) for v in strings.values()) or not isinstance(digests_, dict):
        raise bad("files, environment, engine and digests are required")
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        raise bad("files must list the stack files")
    if not all(isinstance(digests_.get(k), str) for k in ("desired", "observed", "plan")):
        raise bad("digests.desired, .observed and .plan are required")
    instance = data.get("instance")
    plain, secret = data.get("vars") or {}, data.get("sensitive_vars") or {}
    for group in (plain, secret):
        if not isinstance(group, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in group.items()
        ):
            raise bad("vars must map names to strings")
    if instance is not None and not isinstance(instance, str):
        raise bad("instance must be a string or null")
    return SavedPlan(
        tuple(files),
        str(strings["environment"]),
        instance,
        dict(plain),
        dict(secret),
        str(strings["engine"]),
        str(digests_["desired"]),
        str(digests_["observed"]),
        str(digests_["plan"]),
    )


def check_vars(key: SecretKey, saved: SavedPlan, given: Mapping[str, str]) -> dict[str, str]:
    """The --var values to render with: the saved plain ones, plus each sensitive one given
    again on the command line (checked against its digest). UsageError when one is missing."""
    values = dict(saved.vars)
    for name, digest in saved.sensitive_vars.items():
        if name not in given:
            raise UsageError(
                f"the saved plan was made with the sensitive variable {name!r}, which the "
                "plan file does not hold",
                code="stale-plan",
                hint=f"give it again: --var {name}=...",
            )
        if not hmac.compare_digest(_digest(key, given[name]), digest):
            raise StalePlan(
                f"--var {name} differs from the value the plan was made with",
                hint="make a new plan, or give the same value",
            )
        values[name] = given[name]
    extra = sorted(set(given) - set(saved.vars) - set(saved.sensitive_vars))
    if extra:
        raise UsageError(
            f"--var {extra[0]} was not part of the saved plan",
            code="stale-plan",
            hint="a saved plan applies exactly as made: make a new plan with these variables",
        )
    return values


def check(
    key: SecretKey,
    saved: SavedPlan,
    desired: DesiredState,
    observed: ObservedState,
    plan_document: Any,
    engine: str,
) -> None:
    """Refuse (StalePlan) unless this is the plan that was saved."""
    if engine != saved.engine:
        raise StalePlan(
            f"the plan was made for the engine {saved.engine}, not {engine}",
            hint="run up --plan where the plan was made, or make a new plan",
        )
    d, o, p = digests(key, desired, observed, plan_document)
    if not hmac.compare_digest(d, saved.desired):
        raise StalePlan(
            f"the desired state of {desired.project} changed since the plan was made (the "
            "stack file, an env file, a variable or an image reference)",
            hint=f"run 'envkit plan {desired.environment} -o FILE' again, check it, then up",
        )
    if not hmac.compare_digest(o, saved.observed):
        raise StalePlan(
            f"the engine's state of {desired.project} changed since the plan was made "
            "(a container, network, volume or image)",
            hint=f"run 'envkit plan {desired.environment} -o FILE' again, check it, then up",
        )
    if not hmac.compare_digest(p, saved.plan):  # pragma: no cover - implied by purity
        raise StalePlan("the plan differs from the saved one", hint="make a new plan")

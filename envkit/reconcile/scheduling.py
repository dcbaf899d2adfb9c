"""Running named jobs in dependency order on a bounded worker pool, for apply and its waits.

:func:`in_pool` is the one place that owns a pool: Ctrl-C (any exception) sets the cancel
event so waits stop and no new work starts, lets engine calls in flight finish, and
propagates; failures the jobs reported are raised together (:func:`combine`).
:func:`run_jobs` starts each job once the jobs it depends on finished, skips (transitively)
the dependents of a failed job, and returns the failures, real ones first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from envkit.errors import ApplyError, EngineError, EngineUnavailable, EnvkitError
from envkit.progress import Outcome, Reporter, Subject

__all__ = ["Cancelled", "combine", "in_pool", "run_jobs"]


class Cancelled(Exception):
    """Raised inside workers once Ctrl-C was pressed: stop before the next engine call."""


def in_pool(
    workers: int,
    cancel: threading.Event,
    body: Callable[[ThreadPoolExecutor], list[EnvkitError]],
) -> None:
    """Run ``body`` with a pool of ``workers`` threads; raise what it reports as failed."""
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="envkit") as pool:
        try:
            failures = body(pool)
        except BaseException:
            cancel.set()  # waits stop; calls in flight finish; nothing new starts
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if failures:
        raise combine(failures)


def run_jobs(
    pool: ThreadPoolExecutor,
    jobs: Mapping[str, Callable[[], None]],
    deps: Mapping[str, set[str]],
    *,
    reporter: Reporter,
    check: Callable[[], None],
    subjects: Mapping[str, Sequence[Subject]] | None = None,
) -> list[EnvkitError]:
    """Run jobs respecting ``deps`` (job -> jobs it needs), as many at once as the pool
    allows. A job whose dependency failed is skipped, and its ``subjects`` (the objects it
    would have changed) reported as not started. A job reports its own failure (it knows
    which object failed); ``check`` raises once cancelled. Returns the failures."""
    pending = dict(jobs)
    running: dict[Future[None], str] = {}
    finished: set[str] = set()
    failed: dict[str, EnvkitError] = {}
    while pending or running:
        progress = True
        while progress:  # skip, transitively, whatever depends on a failure
            progress = False
            for name in list(pending):
                bad = sorted(deps.get(name, set()) & failed.keys())
                if bad:
                    failed[name] = ApplyError(
                        f"{name} not started: its dependency {bad[0]} failed",
                        code="dependency-failed",
                    )
                    del pending[name]
                    for subject in (subjects or {}).get(name, ()):
                        reporter.step(
                            subject, f"not started (dependency {bad[0]} failed)", Outcome.SKIPPED
                        )
                    progress = True
        for name in list(pending):
            if deps.get(name, set()) & jobs.keys() <= finished:
                check()
                running[pool.submit(pending.pop(name))] = name
        if not running:
            if pending:  # a cycle; the schema and normalize reject them, so be brief
                raise ApplyError(f"dependency cycle among: {', '.join(sorted(pending))}")
            break
        # A timeout, so Ctrl-C is seen promptly even where a blocked wait is not interrupted.
        done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
        for fut in done:
            name = running.pop(fut)
            exc = fut.exception()
            if exc is None:
                finished.add(name)
            elif isinstance(exc, ApplyError | EngineError) and not isinstance(
                exc, EngineUnavailable
            ):
                failed[name] = exc
            else:
                raise exc
    first = [e for e in failed.values() if e.code != "dependency-failed"]
    return first + [e for e in failed.values() if e.code == "dependency-failed"]


# Codes of failures that follow from another one (listed after it).
_FOLLOWS = ("shared-image-failed", "dependency-failed")


def combine(failures: list[EnvkitError]) -> EnvkitError:
    """One failure is raised as itself (an ApplyError with logs, or e.g. ImageNotFound),
    with the services it kept from starting added to its detail; several failures become
    one ApplyError listing each once (with its own logs), and their distinct hints."""
    real = [f for f in failures if f.code != "dependency-failed"] or failures
    skipped = [f.message for f in failures if f not in real]
    if len(real) == 1:
        err = real[0]
        if skipped:
            err.detail = "\n".join([*filter(None, [(err.detail or "").rstrip("\n")]), *skipped])
        return err
    # Each failure once: the message counts them, the detail says each (with its logs),
    # the causes before the failures that follow from them (a shared image's).
    ordered = sorted(failures, key=lambda f: _FOLLOWS.index(f.code) if f.code in _FOLLOWS else -1)
    detail = "\n".join(
        f.message + ("\n" + f.detail.rstrip("\n") if f.detail else "") for f in ordered
    )
    hints = list(dict.fromkeys(f.hint for f in real if f.hint))
    return ApplyError(f"{len(real)} services failed:", hint="; ".join(hints) or None, detail=detail)

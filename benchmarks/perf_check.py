"""A cheap performance regression check for CI: exits 1 when a ratio is out of bounds.

    python benchmarks/perf_check.py [--repeat 3] [--services 3]

Each check times envkit next to its floor, interleaved in one run, and compares their
ratio with a generous bound: about 2-3x today's ratio, so a 3x regression of envkit's own
cost fails while the noise of a busy CI machine does not.

* start-up (CPU time of the process, the least of the runs): ``envkit --help`` and
  ``envkit validate`` of a small stack against a bare interpreter;
* engine (wall time, the median): a no-op ``up`` against a fresh interpreter that imports
  the docker SDK and makes one list call; cold ``up`` and ``down`` against the SDK doing the
  same work.

Needs a running engine and the envkit-test/busybox image (scripts/setup.sh). Uses its own
stack name, so it can run beside bench_reconcile.py; removes what it made even on failure.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_reconcile import (
    BENCH_ENV,
    FLOOR_DOWN,
    FLOOR_KILL,
    FLOOR_LIST,
    FLOOR_UP,
    IMAGE,
    RUN,
    envkit_stack,
)


@dataclass(frozen=True)
class Check:
    name: str
    bound: float  # the largest ratio envkit / floor that passes
    cpu: bool  # compare CPU time (start-up) rather than wall time (engine work)


CHECKS = (
    Check("--help", 3.0, cpu=True),  # today 1.25-1.7x (a 3x regression of the total is 3x+)
    Check("validate", 7.0, cpu=True),  # today 3.2-4.4x
    Check("no-op up", 2.0, cpu=False),  # today 0.75-0.8x
    Check("cold up", 2.5, cpu=False),  # today 0.75-1.25x
    Check("down", 3.5, cpu=False),  # floor stops within the grace period too (was: kills)
)


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one process; a failure ends the check."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=BENCH_ENV)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--services", type=int, default=3)
    opts = ap.parse_args()
    py = sys.executable
    name = f"perfchk{uuid.uuid4().hex[:6]}"
    tmp = Path(tempfile.mkdtemp(prefix="envkit-perfcheck-"))
    stack = tmp / "envkit.yaml"
    stack.write_text(envkit_stack(opts.services).replace(f"stack: {RUN}", f"stack: {name}"))
    ek = [py, "-m", "envkit", "-f", str(stack)]
    samples: dict[str, list[tuple[tuple[float, float], tuple[float, float]]]] = {
        c.name: [] for c in CHECKS
    }
    try:
        run([*ek, "up", "b"])  # warm-up: bytecode caches, the image, the memo
        run([*ek, "down", "b"])
        run([py, "-c", FLOOR_LIST, f"{name}-b"])
        for _ in range(opts.repeat):
            bare = run([py, "-c", "pass"])
            samples["--help"].append((run([*ek, "--help"]), bare))
            samples["validate"].append((run([*ek, "validate"]), run([py, "-c", "pass"])))
            cold = run([*ek, "up", "b"])
            samples["no-op up"].append(
                (run([*ek, "up", "b"]), run([py, "-c", FLOOR_LIST, f"{name}-b"]))
            )
            down = run([*ek, "down", "b"])
            floor_up = run([py, "-c", FLOOR_UP, str(opts.services), f"{name}f", IMAGE])
            floor_down = run([py, "-c", FLOOR_DOWN, f"{name}f"])
            samples["cold up"].append((cold, floor_up))
            samples["down"].append((down, floor_down))
    finally:
        subprocess.run([*ek, "down", "b"], capture_output=True, env=BENCH_ENV)
        subprocess.run([py, "-c", FLOOR_KILL, f"{name}f"], capture_output=True, env=BENCH_ENV)
        stack.unlink()
        tmp.rmdir()
    failed = False
    print(f"| check | envkit | floor | ratio | bound | ({opts.services} services) |")
    print("|---|---|---|---|---|---|")
    for check in CHECKS:
        i = 1 if check.cpu else 0
        # CPU time: the least of the runs (noise only adds); wall time: the median.
        pick = min if check.cpu else statistics.median
        mine = pick(s[0][i] for s in samples[check.name])
        floor = pick(s[1][i] for s in samples[check.name])
        ratio = mine / floor if floor > 0 else float("inf")
        ok = ratio <= check.bound
        failed |= not ok
        kind = "cpu" if check.cpu else "wall"
        print(
            f"| {check.name} | {mine * 1000:.0f} ms {kind} | {floor * 1000:.0f} ms | "
            f"{ratio:.2f}x | {check.bound:.1f}x | {'ok' if ok else 'REGRESSION'} |"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.exit(main())

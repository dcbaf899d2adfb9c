"""Benchmark: envkit's reconciler against docker-compose 1.29.2 and a raw-SDK floor.

    python benchmarks/bench_reconcile.py [--sizes 10,50] [--repeat 3] [--scale-sizes 300]

For each size N it generates the same stack of N busybox services (each `sleep`, one env
var, one port published on 127.0.0.1 with a random host port) as an envkit stack and as a
compose file, and times, as separate processes the way users run them:

* cold up        - nothing exists; create the network and N containers and start them
* no-op up       - everything already matches
* plan, ps       - read-only, on the running instance (compose: ``ps``; no plan)
* one change     - one service's environment changed: recreate that one
* down           - remove everything

``--scale-sizes`` (none by default; far too slow for CI) adds, once per size, cold up,
no-op up, plan, ps and down of that many services, checks that plan, ps and the no-op up
each take under 2 s and that down leaves nothing of the instance (at 300 services dockerd
once kept a stale endpoint on the network and ``down`` failed).

The floor is a script that creates and starts the same N containers with the docker SDK
in a thread pool (no planning, no labels to read; a second cold-up row compares with the
same floor plus envkit's start check written by hand: 0.3 s after the last start, one
list); for down, one that stops each within
its 1 s grace period and removes it, as the stack asks (a second row compares with a floor
that kills at once); for the no-op case and ps, a fresh interpreter that imports docker
and makes one label-filtered container list. Needs a running engine and the
envkit-test/busybox image (scripts/setup.sh).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

IMAGE = "envkit-test/busybox:latest"
# Names of this run's stack and projects: two runs on one engine must not meet.
RUN = f"bench{uuid.uuid4().hex[:6]}"


def services(n: int, changing: str) -> list[str]:
    """N services, the same for both tools; the first one's REV is ``changing`` (the
    tool's own variable syntax), so one value changes exactly one service."""
    return [
        f"  svc{i}:\n    image: {IMAGE}\n    command: [sleep, '3600']\n"
        f"    environment: {{REV: '{changing if i == 0 else '1'}'}}\n"
        f"    ports: ['127.0.0.1::80']\n    stop_grace_period: 1s"
        for i in range(n)
    ]


def envkit_stack(n: int) -> str:
    head = [f"stack: {RUN}", "vars: {rev: '1'}", "environments: {b: {}}", "services:"]
    return "\n".join(head + services(n, "{{ rev }}")) + "\n"


def compose_stack(n: int) -> str:
    return "\n".join(["version: '3.8'", "services:", *services(n, "${REV:-1}")]) + "\n"


FLOOR_UP = """
import sys, docker
from concurrent.futures import ThreadPoolExecutor
n, project, IMAGE = int(sys.argv[1]), sys.argv[2], sys.argv[3]
client = docker.from_env()
net = client.networks.create(project, labels={"bench": project})
def one(i):
    c = client.containers.create(IMAGE, ["sleep", "3600"], name=f"{project}-svc{i}-1",
        environment={"REV": "1"}, ports={"80/tcp": ("127.0.0.1", None)},
        labels={"bench": project}, network=project, stop_signal="SIGTERM")
    c.start()
with ThreadPoolExecutor(8) as pool:
    list(pool.map(one, range(n)))
"""


def variant(script: str, *edits: tuple[str, str]) -> str:
    """``script`` with each (old, new) edit made; an ``old`` that is not there exactly once
    stops the benchmark, so an edit of the base script cannot leave a variant silently
    equal to it."""
    for old, new in edits:
        if script.count(old) != 1:
            raise SystemExit(f"benchmark floor variant: {old!r} is not in the script once")
        script = script.replace(old, new)
    return script


# The same floor with envkit's start check written by hand: 0.3 s after the last start
# (envkit.reconcile.readiness.START_SETTLE_S) one label-filtered list, and a container that
# exited with a non-zero code fails it. A second reference for cold up: envkit keeps that
# promise, the plain floor does not, and at 10 services the wait alone is ~0.13x.
FLOOR_UP_CHECKED = variant(
    FLOOR_UP,
    ("    c.start()\n", "    c.start()\n    return time.monotonic()\n"),
    ("import sys, docker", "import sys, time, docker"),
    (
        "    list(pool.map(one, range(n)))\n",
        "    last = max(pool.map(one, range(n)))\n"
        "time.sleep(max(0.0, last + 0.3 - time.monotonic()))\n"
        "listed = client.api.containers(all=True, filters={'label': f'bench={project}'})\n"
        "assert not [c for c in listed if c['State'] == 'exited' and ' (0) ' not in c['Status']]\n",
    ),
)

# The down floor does what the stack asks of a down: stop each container within its grace
# period (``stop_grace_period: 1s``; busybox ``sleep`` as PID 1 ignores SIGTERM, so each stop
# waits out that second, as envkit's and compose's do), then remove it, then the network.
FLOOR_DOWN = """
import sys, docker
from concurrent.futures import ThreadPoolExecutor
project = sys.argv[1]
client = docker.from_env()
cs = client.containers.list(all=True, filters={"label": f"bench={project}"})
def one(c):
    c.stop(timeout=1)
    c.remove(force=True)
with ThreadPoolExecutor(8) as pool:
    list(pool.map(one, cs))
for net in client.networks.list(filters={"label": f"bench={project}"}):
    net.remove()
"""

# What the down floor was until 2026-12-01: kill and remove at once, no grace period. No
# tool that honours ``stop_grace_period`` can reach it; it stays as a second reference.
FLOOR_KILL = variant(
    FLOOR_DOWN, ("    c.stop(timeout=1)\n    c.remove(force=True)", "    c.remove(force=True)")
)

FLOOR_LEFT = """
import sys, docker
api = docker.from_env().api
f = {"label": f"io.envkit.project={sys.argv[1]}"}
names = [c["Names"][0].lstrip("/") for c in api.containers(all=True, filters=f)]
names += [n["Name"] for n in api.networks(filters=f)]
print(" ".join(names))
"""

FLOOR_LIST = """
import docker
import sys
docker.from_env().api.containers(all=True, filters={"label": f"io.envkit.project={sys.argv[1]}"})
"""


# Every tool runs as installed: its modules compiled to bytecode once. A checkout (or an
# environment with PYTHONDONTWRITEBYTECODE=1) would otherwise recompile envkit's modules from
# source on every run, while docker-compose and the SDK come with their .pyc files. The
# cache goes to a directory of its own, not into the source tree.
BENCH_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
BENCH_ENV["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "envkit-bench-pycache")


def timed(cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env or BENCH_ENV, cwd=cwd)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return elapsed


def median(fn: Callable[[], float], repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


OPERATIONS = ("cold up", "no-op up", "plan", "ps", "one-service change", "down")


def envkit_cycle(ek: list[str]) -> tuple[float, ...]:
    cold = timed([*ek, "up", "b"])
    noop = timed([*ek, "up", "b"])
    plan = timed([*ek, "plan", "b"])
    ps = timed([*ek, "ps", "b"])
    change = timed([*ek, "up", "b", "--var", "rev=2"])
    down = timed([*ek, "down", "b"])
    return cold, noop, plan, ps, change, down


def compose_cycle(compose: str, cdir: Path) -> tuple[float, ...]:
    c = [compose, "-p", f"{RUN}c"]
    cold = timed([*c, "up", "-d"], cwd=str(cdir))
    noop = timed([*c, "up", "-d"], cwd=str(cdir))
    ps = timed([*c, "ps"], cwd=str(cdir))
    change = timed([*c, "up", "-d"], env={**BENCH_ENV, "REV": "2"}, cwd=str(cdir))
    down = timed([*c, "down"], cwd=str(cdir))
    return cold, noop, float("nan"), ps, change, down


def floor_cycle(py: str, n: int, swap: bool = False) -> tuple[float, ...]:
    """The floor's up and its graceful down, its up with the start check and its
    kill-down; ``swap``: the checked up first (alternated between rounds, so that neither
    up always follows the same kind of down)."""
    ups = [FLOOR_UP, FLOOR_UP_CHECKED]
    downs = [FLOOR_DOWN, FLOOR_KILL]
    took: dict[str, float] = {}
    for up, down in zip(ups[::-1] if swap else ups, downs, strict=True):
        took[up] = timed([py, "-c", up, str(n), f"{RUN}f", IMAGE])
        took[down] = timed([py, "-c", down, f"{RUN}f"])
    return took[FLOOR_UP], took[FLOOR_DOWN], took[FLOOR_KILL], took[FLOOR_UP_CHECKED]


def leftovers(project: str, py: str) -> str:
    """What of ``project`` is still on the engine (names), as one line; "" when nothing."""
    done = subprocess.run(
        [py, "-c", FLOOR_LEFT, project], capture_output=True, text=True, env=BENCH_ENV
    )
    return (done.stdout + done.stderr).strip()


SCALE_LIMIT_S = 2.0  # plan, ps and a no-op up of a big running instance (issue 11)


def at_scale(envkit: list[str], py: str, tmp: Path, n: int) -> list[tuple[str, ...]]:
    """Once each, at ``n`` services: cold up, no-op up, plan, ps, down, each beside its
    floor; ``plan``, ``ps`` and the no-op ``up`` must each take under SCALE_LIMIT_S, and
    ``down`` must leave nothing of the instance (at 300 services dockerd once kept a stale
    endpoint on the network and ``down`` failed)."""
    stack = tmp / f"envkit-scale{n}.yaml"
    stack.write_text(envkit_stack(n))
    ek = [*envkit, "-f", str(stack)]
    times = dict(zip(OPERATIONS, (float("nan"),) * len(OPERATIONS), strict=True))
    times["cold up"] = timed([*ek, "up", "b"])
    times["no-op up"] = timed([*ek, "up", "b"])
    times["plan"] = timed([*ek, "plan", "b"])
    times["ps"] = timed([*ek, "ps", "b"])
    list_floor = timed([py, "-c", FLOOR_LIST, f"{RUN}-b"])
    times["down"] = timed([*ek, "down", "b"])
    left = leftovers(f"{RUN}-b", py)
    if left:
        raise SystemExit(f"down of {n} services left: {left}")
    f_up, f_down, f_kill, _ = floor_cycle(py, n)
    floors = {"cold up": f_up, "no-op up": list_floor, "ps": list_floor, "down": f_down}
    rows = []
    for what in ("cold up", "no-op up", "plan", "ps", "down"):
        e, floor = times[what], floors.get(what)
        limit = ""
        if what in ("no-op up", "plan", "ps"):
            limit = " (ok: < 2 s)" if e < SCALE_LIMIT_S else " (OVER 2 s)"
        rows.append(
            (
                str(n),
                what,
                f"{e:.2f} s{limit}",
                "n/a",
                f"{floor:.2f} s" if floor is not None else "-",
                f"{e / floor:.2f}x" if floor else "-",
                "-",
            )
        )
    rows.append(
        (
            str(n),
            "down, floor kills",
            f"{times['down']:.2f} s",
            "n/a",
            f"{f_kill:.2f} s",
            f"{times['down'] / f_kill:.2f}x",
            "-",
        )
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,50")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--scale-sizes",
        default="",
        help="also time, once, cold up, no-op up, plan, ps and down at these sizes (e.g. "
        "300), check the 2 s limit and that down leaves nothing; slow, not for CI",
    )
    opts = ap.parse_args()
    py = sys.executable
    compose = shutil.which("docker-compose")
    tmp = Path(tempfile.mkdtemp(prefix="envkit-bench-"))
    envkit = [py, "-m", "envkit"]
    rows: list[tuple[str, ...]] = []
    for n in (int(s) for s in opts.sizes.split(",")):
        stack = tmp / f"envkit{n}.yaml"
        stack.write_text(envkit_stack(n))
        cdir = tmp / f"compose{n}"
        cdir.mkdir()
        (cdir / "docker-compose.yml").write_text(compose_stack(n))
        ek = [*envkit, "-f", str(stack)]
        results: dict[str, list[tuple[float, ...]]] = {"envkit": [], "compose": [], "floor": []}
        # Warm-up, not timed: bytecode caches, the engine's image and network state.
        envkit_cycle(ek)
        timed([py, "-c", FLOOR_LIST, f"{RUN}-b"])
        for round_ in range(opts.repeat):
            results["envkit"].append(envkit_cycle(ek))
            if compose:
                results["compose"].append(compose_cycle(compose, cdir))
            results["floor"].append(floor_cycle(py, n, swap=round_ % 2 == 1))
        # The no-op floor: a fresh interpreter, import docker, one filtered list.
        timed([*ek, "up", "b"])
        list_floor = median(lambda: timed([py, "-c", FLOOR_LIST, f"{RUN}-b"]), opts.repeat * 2)
        timed([*ek, "down", "b"])

        def med(tool: str, i: int, results: dict[str, list[tuple[float, ...]]] = results) -> float:
            return statistics.median(r[i] for r in results[tool])

        f_up, f_down, f_kill = med("floor", 0), med("floor", 1), med("floor", 2)
        f_checked = med("floor", 3)
        for i, what in enumerate(OPERATIONS):
            e = med("envkit", i)
            c = med("compose", i) if compose else float("nan")
            floor = {0: f_up, 1: list_floor, 3: list_floor, 5: f_down}.get(i)
            rows.append(
                (
                    str(n),
                    what,
                    f"{e:.2f} s",
                    f"{c:.2f} s" if c == c else "n/a",
                    f"{floor:.2f} s" if floor is not None else "-",
                    f"{e / floor:.2f}x" if floor else "-",
                    f"{c / e:.1f}x" if c == c else "-",
                )
            )
            if i == 0:
                rows.append(
                    (
                        str(n),
                        "cold up, floor checks starts",
                        f"{e:.2f} s",
                        "n/a",
                        f"{f_checked:.2f} s",
                        f"{e / f_checked:.2f}x",
                        "-",
                    )
                )
        e_down = med("envkit", 5)
        rows.append(
            (
                str(n),
                "down, floor kills",
                f"{e_down:.2f} s",
                "n/a",
                f"{f_kill:.2f} s",
                f"{e_down / f_kill:.2f}x",
                "-",
            )
        )
    for n in (int(s) for s in opts.scale_sizes.split(",") if s.strip()):
        rows += at_scale(envkit, py, tmp, n)
    shutil.rmtree(tmp, ignore_errors=True)
    head = (
        "services",
        "operation",
        "envkit",
        "docker-compose 1.29.2",
        "SDK floor",
        "envkit / floor",
        "compose / envkit",
    )
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

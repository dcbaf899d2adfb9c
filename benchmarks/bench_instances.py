"""Benchmark: throwaway instances — envkit ``up --ephemeral --wait`` against docker-compose.

    python benchmarks/bench_instances.py [--parallel 10] [--repeat 3]

The stack: 5 busybox services, each an HTTP server with a healthcheck (wget every 500 ms)
and a port published on 127.0.0.1 with a random host port — the same stack as an envkit
file (environment ``ci`` with ``ephemeral_ports: true``) and as a compose file. Timed as
separate processes, the way a CI job runs them, wall clock from start to every service
healthy:

* envkit: ``envkit up ci --ephemeral --ttl 30m --wait --json`` (returns when healthy);
* compose: ``docker-compose -p NAME up -d``, then polling ``docker inspect`` until every
  container is healthy (1.29.2 has no ``--wait``), every 100 ms.

Once for one instance, once for ``--parallel`` instances started at the same moment
(until the last one is healthy), and the teardown of those (``down --volumes`` /
``down -v``, in parallel). Needs a running engine and envkit-test/busybox
(scripts/engine-up.sh, scripts/build-test-images.sh).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SOURCE_IMAGE = "envkit-test/busybox:latest"
# A tag of our own for the run: other test suites may remove and reload the test image,
# and compose would then try a registry (there is none here).
IMAGE = "envkit-bench/busybox:instances"
SERVICES = ("db", "cache", "api", "worker", "web")
SERVE = "mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8000 -h /www"
HEALTH = '[CMD, wget, -q, -O, /dev/null, "http://127.0.0.1:8000/"]'


def _services() -> list[str]:
    """The same services for both tools: envkit reads Compose's service syntax as is."""
    return [
        f"  {svc}:\n    image: {IMAGE}\n    command: [sh, -c, {json.dumps(SERVE)}]\n"
        f"    ports: ['127.0.0.1::8000']\n    init: true\n    stop_grace_period: 1s\n"
        f"    healthcheck: {{test: {HEALTH}, interval: 500ms, retries: 60}}"
        for svc in SERVICES
    ]


def envkit_stack(name: str) -> str:
    head = [f"stack: {name}", "environments: {ci: {ephemeral_ports: true}}", "services:"]
    return "\n".join(head + _services()) + "\n"


def compose_stack() -> str:
    return "\n".join(["version: '3.8'", "services:", *_services()]) + "\n"


def run(argv: list[str], cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def compose_healthy(projects: list[str]) -> None:
    """Poll until every container of every compose project is healthy (one ``docker ps``
    per poll: its Status column says ``(healthy)``)."""
    want = set(projects)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        rows = subprocess.run(
            [
                "docker",
                "ps",
                "--filter",
                "label=com.docker.compose.project",
                "--format",
                '{{.Label "com.docker.compose.project"}}\t{{.Status}}',
            ],
            capture_output=True,
            text=True,
        ).stdout.splitlines()
        mine = [r.split("\t", 1) for r in rows if r.split("\t", 1)[0] in want]
        if len(mine) == len(SERVICES) * len(projects) and all("(healthy)" in s for _, s in mine):
            return
        time.sleep(0.1)
    raise SystemExit("compose instances did not become healthy in 120 s")


class Bench:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.name = f"bi{uuid.uuid4().hex[:6]}"
        self.envkit_file = workdir / "envkit.yaml"
        self.envkit_file.write_text(envkit_stack(self.name))
        (workdir / "docker-compose.yml").write_text(compose_stack())
        self.envkit = [sys.executable, "-m", "envkit", "-f", str(self.envkit_file)]
        self.instances: list[str] = []
        self.projects: list[str] = []

    def envkit_up(self, n: int) -> float:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n) as pool:
            outs = list(
                pool.map(
                    lambda _: run(
                        [
                            *self.envkit,
                            "up",
                            "ci",
                            "--ephemeral",
                            "--ttl",
                            "30m",
                            "--wait",
                            "--json",
                        ],
                        self.workdir,
                    ),
                    range(n),
                )
            )
        took = time.perf_counter() - start
        for out in outs:
            doc = json.loads(out)
            assert all(s["health"] == "healthy" for s in doc["services"].values()), doc
            self.instances.append(doc["instance"])
        ports = [
            p for o in outs for s in json.loads(o)["services"].values() for p in s["ports"].values()
        ]
        assert len(set(ports)) == len(ports) == n * len(SERVICES), "port collision"
        return took

    def envkit_down(self) -> float:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, len(self.instances))) as pool:
            list(
                pool.map(
                    lambda i: run(
                        [*self.envkit, "down", "ci", "--instance", i, "--volumes"], self.workdir
                    ),
                    self.instances,
                )
            )
        self.instances = []
        return time.perf_counter() - start

    def compose_up(self, n: int) -> float:
        projects = [f"{self.name}c{uuid.uuid4().hex[:6]}" for _ in range(n)]
        self.projects += projects  # cleaned up even when waiting fails
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=n) as pool:
            list(
                pool.map(
                    lambda p: run(["docker-compose", "-p", p, "up", "-d"], self.workdir), projects
                )
            )
        compose_healthy(projects)
        return time.perf_counter() - start

    def compose_down(self) -> float:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=max(1, len(self.projects))) as pool:
            list(
                pool.map(
                    lambda p: run(["docker-compose", "-p", p, "down", "-v"], self.workdir),
                    self.projects,
                )
            )
        self.projects = []
        return time.perf_counter() - start

    def cleanup(self) -> None:
        if self.instances:
            self.envkit_down()
        if self.projects:
            self.compose_down()


def median(fn: Callable[[], float], repeat: int, after: Callable[[], float]) -> tuple[float, float]:
    ups, downs = [], []
    for _ in range(repeat):
        ups.append(fn())
        downs.append(after())
    return statistics.median(ups), statistics.median(downs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("docker-compose") is None:
        raise SystemExit("docker-compose is not installed")
    run(["docker", "tag", SOURCE_IMAGE, IMAGE], Path.cwd())
    with tempfile.TemporaryDirectory(prefix="envkit-bench-") as tmp:
        bench = Bench(Path(tmp))
        try:
            n = args.parallel
            e1, e1d = median(lambda: bench.envkit_up(1), args.repeat, bench.envkit_down)
            c1, c1d = median(lambda: bench.compose_up(1), args.repeat, bench.compose_down)
            en, end = median(lambda: bench.envkit_up(n), args.repeat, bench.envkit_down)
            cn, cnd = median(lambda: bench.compose_up(n), args.repeat, bench.compose_down)
        finally:
            bench.cleanup()
            subprocess.run(["docker", "rmi", IMAGE], capture_output=True)
    rows = [
        ("1 instance: up until healthy", e1, c1),
        ("1 instance: down (with volumes)", e1d, c1d),
        (f"{n} instances in parallel: up until all healthy", en, cn),
        (f"{n} instances in parallel: down", end, cnd),
    ]
    print(f"5-service stack (busybox httpd + healthcheck every 500 ms), median of {args.repeat}")
    print(f"{'scenario':<48} {'envkit':>9} {'compose':>9} {'ratio':>7}")
    for label, e, c in rows:
        print(f"{label:<48} {e:>8.2f}s {c:>8.2f}s {e / c:>6.2f}x")


if __name__ == "__main__":
    main()

"""Benchmark: validate + render of generated stacks, and CLI start-up.

    python benchmarks/bench_stackfile.py [--sizes 50,500,2000] [--no-compose]

Prints two tables: the time to read, validate and render one environment of a stack with
N services (growth should be linear: 500 services under one second, 2,000 four times that), and the start-up
cost of `envkit --help` / `envkit validate` over a bare interpreter, side by side with
`docker-compose config` (Debian's docker-compose 1.29.2) when it is installed.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envkit.stackfile.pipeline import read, resolve


def generate(n: int) -> str:
    lines = [
        "stack: bench",
        "vars: {image: 'envkit-test/busybox:latest', base_port: 20000}",
        "environments:",
        "  dev: {vars: {tier: dev}}",
        "  test: {vars: {tier: test}}",
        "services:",
    ]
    for i in range(n):
        dep = f"\n    depends_on: [svc{i - 1}]" if i else ""
        lines.append(
            f"""  svc{i}:
    image: "{{{{ image }}}}"
    command: ["sleep", "3600"]
    ports: ["127.0.0.1:{{{{ base_port + {i} }}}}:80"]
    environment: {{TIER: "{{{{ tier }}}}", INDEX: "{i}", PLAIN: value}}
    volumes: ["data{i % 10}:/data"]
    healthcheck: {{test: [CMD, "true"], interval: 2s, retries: 3}}{dep}"""
        )
    lines.append("volumes:")
    lines.extend(f"  data{i}: {{}}" for i in range(10))
    return "\n".join(lines) + "\n"


def compose_file(n: int) -> str:
    lines = ["version: '3.8'", "services:"]
    for i in range(n):
        dep = f"\n    depends_on: [svc{i - 1}]" if i else ""
        lines.append(
            f"""  svc{i}:
    image: "${{IMAGE:-envkit-test/busybox:latest}}"
    command: ["sleep", "3600"]
    ports: ["127.0.0.1:{20000 + i}:80"]
    environment: {{TIER: "${{TIER:-dev}}", INDEX: "{i}", PLAIN: value}}
    volumes: ["data{i % 10}:/data"]
    healthcheck: {{test: [CMD, "true"], interval: 2s, retries: 3}}{dep}"""
        )
    lines.append("volumes:")
    lines.extend(f"  data{i}: {{}}" for i in range(10))
    return "\n".join(lines) + "\n"


def best_of(fn: object, repeat: int) -> float:
    """The least CPU time (``time.process_time``) of ``repeat`` calls: on a shared machine
    wall time counts the waits for a core; CPU time does not."""
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        fn()  # type: ignore[operator]
        times.append(time.process_time() - t0)
    return min(times)


def run_once(cmd: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one process run. CPU time (user + system of the child) is
    steadier than wall time on a shared machine: waiting for a core does not count."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def run_cmd(cmd: list[str], repeat: int = 7, cwd: str | None = None) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=cwd)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="50,500,2000")
    ap.add_argument("--no-compose", action="store_true", help="skip docker-compose config")
    opts = ap.parse_args()
    sizes = [int(n) for n in opts.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="envkit-bench-"))
    compose = None if opts.no_compose else shutil.which("docker-compose")
    print("## validate + render one environment (in process, CPU time, least of 5)\n")
    print(
        "| services | envkit read+validate | envkit render+model | envkit total | per service |"
        + (" docker-compose config (process) |" if compose else "")
    )
    print("|---:|---:|---:|---:|---:|" + ("---:|" if compose else ""))
    for n in sizes:
        path = tmp / f"stack{n}.yaml"
        path.write_text(generate(n))
        t_read = best_of(lambda p=path: read(p), 5)
        doc = read(path)
        t_render = best_of(lambda d=doc: resolve(d, "dev"), 5)
        total = t_read + t_render
        row = f"| {n} | {t_read * 1000:.0f} ms | {t_render * 1000:.0f} ms | {total * 1000:.0f} ms | {total / n * 1e6:.0f} µs |"
        if compose:
            cdir = tmp / f"compose{n}"
            cdir.mkdir()
            (cdir / "docker-compose.yml").write_text(compose_file(n))
            t_c = run_cmd([compose, "config", "-q"], repeat=3, cwd=str(cdir))
            row += f" {t_c * 1000:.0f} ms |"
        print(row)

    print("\n## start-up (process runs interleaved round by round, 11 rounds)\n")
    small = tmp / "small.yaml"
    small.write_text(generate(3))
    py = sys.executable
    commands = {
        "bare interpreter": [py, "-c", "pass"],
        "envkit --help": [py, "-m", "envkit", "--help"],
        "envkit validate (3 services, 2 envs)": [py, "-m", "envkit", "-f", str(small), "validate"],
        "python -c 'import docker'": [py, "-c", "import docker"],
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
    for _ in range(11):  # interleaved: a load spike hits every command alike
        for name, cmd in commands.items():
            samples[name].append(run_once(cmd))
    wall = {n: statistics.median(w for w, _ in v) for n, v in samples.items()}
    cpu = {n: min(c for _, c in v) for n, v in samples.items()}
    bare, bare_cpu = wall["bare interpreter"], cpu["bare interpreter"]
    print("| command | wall (median) | over bare | CPU (least) | CPU over bare |")
    print("|---|---:|---:|---:|---:|")
    for name in commands:
        print(
            f"| {name} | {wall[name] * 1000:.0f} ms | {(wall[name] - bare) * 1000:+.0f} ms "
            f"| {cpu[name] * 1000:.0f} ms | {(cpu[name] - bare_cpu) * 1000:+.0f} ms |"
        )
    probe = subprocess.run(
        [
            py,
            "-c",
            "import io, sys; from envkit.cli import main; "
            "main(['-f', sys.argv[1], 'validate'], stdout=io.StringIO()); print('docker' in sys.modules)",
            str(small),
        ],
        capture_output=True,
        text=True,
    )
    print(
        f"\ndocker SDK imported by `envkit validate`: {probe.stdout.strip() or probe.stderr.strip()}"
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: modules compiled once
    main()

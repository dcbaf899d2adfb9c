"""Benchmark: a 10-service stack on the 3-node test Swarm — envkit against ``docker stack deploy``.

    python benchmarks/bench_swarm.py [--repeat 4]

The stack: 10 busybox services (2 replicas each, dnsrr endpoints: this kernel has no IPVS, one
overlay network), the same file for both tools (envkit reads Compose's ``deploy:`` as is).
Timed as separate processes, wall clock:

* deploy to converged: ``envkit up dev`` (returns when every service converged) against
  ``docker -H MANAGER stack deploy -c FILE NAME`` followed by polling ``docker service ls``
  every 200 ms until every service shows all replicas running;
* plan on the converged stack: ``envkit plan dev`` (the process; and the observe + plan part
  in-process, without the interpreter and SDK import);
* a no-op ``envkit up dev`` on the converged stack (against a ``docker stack deploy`` of the
  unchanged file, which sends an update of every service and returns), in wall and CPU
  seconds, next to ``envkit validate dev``: the process's start-up floor (interpreter and
  envkit's imports), which a no-op ``up`` cannot go under;
* a one-service rolling update (an environment value of one service changed): ``envkit up``
  against ``docker stack deploy`` + polling ``docker service ls`` and the task states until the
  updated service runs its new tasks only.

The two tools take turns going first (even repeats envkit, odd ones stack deploy: use an
even ``--repeat``), and each deploy starts once no node holds a container of a benchmark
stack any more. envkit's modules are byte-compiled first, as
``pip install`` leaves them: with ``PYTHONDONTWRITEBYTECODE`` set and no ``.pyc`` files,
every run would compile the package (~0.5 s). The load average is printed with the table:
these machines are shared.

Needs the test cluster (``scripts/cluster-setup.sh``). Removes its stacks afterwards.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from functools import partial
from pathlib import Path

MANAGER = os.environ.get("ENVKIT_BENCH_MANAGER", "unix:///run/envkit-cluster/n1.sock")
IMAGE = "envkit-test/busybox:latest"
N = 10
DOCKER = ["docker", "-H", MANAGER]


def _stack_file(name: str, mode: str, envkit: bool) -> str:
    lines = [f"stack: {name}", "environments:", f"  dev: {{engine: {{swarm: '{MANAGER}'}}}}"]
    if not envkit:
        lines = ['version: "3.8"']
    lines.append("services:")
    for i in range(N):
        lines += [
            f"  s{i}:",
            f"    image: {IMAGE}",
            '    command: [sleep, "86400"]',
            "    stop_grace_period: 200ms",
            f"    environment: {{MODE: {mode if i == 0 else 'x'}}}",
            "    networks: [back]",
            "    deploy: {replicas: 2, endpoint_mode: dnsrr, update_config: {order: start-first}}",
        ]
    lines += ["networks:", "  back: {driver: overlay}"]
    return "\n".join(lines) + "\n"


def _node_hosts() -> list[str]:
    """The node engines of the test cluster (its env file), else just the manager."""
    env = Path("/run/envkit-cluster/cluster.env")
    if not env.is_file():
        return [MANAGER]
    hosts = [
        line.split("=", 1)[1]
        for line in env.read_text(encoding="utf-8").splitlines()
        if line.startswith("ENVKIT_CLUSTER_N") and line.split("=", 1)[0].endswith("_HOST")
    ]
    return hosts or [MANAGER]


def _settle() -> None:
    """Wait until no node holds a container of a benchmark stack (Swarm removes them after
    ``down`` / ``stack rm`` return), then a second more: a deploy must not start while the
    nodes still tear the last one down."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        names = []
        for host in _node_hosts():
            out = subprocess.run(
                ["docker", "-H", host, "ps", "-a", "--format",
                 '{{.Label "com.docker.swarm.service.name"}}'],
                capture_output=True, text=True,
            ).stdout.split()  # fmt: skip
            names += [n for n in out if n.startswith(("bench", "bds"))]
        if not names:
            break
        time.sleep(0.5)
    time.sleep(1)


def _run(cmd: list[str], cwd: Path) -> float:
    t = time.monotonic()
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    return time.monotonic() - t


def _cpu(cmd: list[str], cwd: Path) -> float:
    """The CPU seconds (user + system) the process used: less at the mercy of other jobs
    on the machine than its wall time."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _all_running(name: str, service: str | None = None) -> bool:
    out = subprocess.run(
        [*DOCKER, "service", "ls", "--filter", f"label=com.docker.stack.namespace={name}",
         "--format", "{{.Name}} {{.Replicas}}"],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n")  # fmt: skip
    rows = [r.split() for r in out if r.strip()]
    if len(rows) != N:
        return False
    if not all(a == b for a, b in (r[1].split("/")[:2] for r in rows)):
        return False
    if service is None:
        return True
    # The updated service: its update finished (every task of the new spec running).
    state = subprocess.run(
        [*DOCKER, "service", "inspect", f"{name}_{service}", "--format",
         "{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return state in ("", "completed")


def _poll(name: str, service: str | None = None) -> None:
    while not _all_running(name, service):
        time.sleep(0.2)


def _stack_deploy(folder: Path, name: str, mode: str, service: str | None = None) -> float:
    (folder / "compose.yml").write_text(_stack_file(name, mode, envkit=False), encoding="utf-8")
    t = time.monotonic()
    subprocess.run([*DOCKER, "stack", "deploy", "-c", "compose.yml", name], cwd=folder,
                   check=True, capture_output=True)  # fmt: skip
    if service is not None:
        time.sleep(0.5)  # let the update start before polling its state
    _poll(name, service)
    return time.monotonic() - t


def _envkit(folder: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "envkit", "-f", str(folder / "envkit.yaml"), *args]


def _in_process_plan(folder: Path) -> float:
    code = (
        "import time\n"
        "from envkit.stackfile.pipeline import read, resolve\n"
        "from envkit.stackfile.swarmkeys import to_swarm\n"
        "from envkit.engine.swarm import SwarmEngine\n"
        "from envkit.reconcile.swarm_plan import swarm_plan\n"
        f"e = SwarmEngine({MANAGER!r})\n"
        "t = time.monotonic()\n"
        f"r = resolve(read({str(folder / 'envkit.yaml')!r}), 'dev')\n"
        "s = to_swarm(r.rendered, r.desired)\n"
        "p = swarm_plan(s, e.observe_swarm(s.project))\n"
        "assert p.empty, p.render()\n"
        "print(time.monotonic() - t)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=4)
    args = ap.parse_args()
    results: dict[str, list[float]] = {}

    def add(key: str, value: float) -> None:
        results.setdefault(key, []).append(value)

    import envkit

    compileall.compile_dir(os.path.dirname(envkit.__file__), quiet=1)
    load_before = os.getloadavg()
    for turn in range(args.repeat):
        tag = uuid.uuid4().hex[:6]
        ek, ds = f"bench{tag}", f"bds{tag}"
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            try:
                (folder / "envkit.yaml").write_text(_stack_file(ek, "a", True), encoding="utf-8")
                deploys = [
                    ("deploy 10 services to converged: envkit up",
                     partial(_run, _envkit(folder, "up", "dev"), folder)),
                    ("deploy 10 services to converged: docker stack deploy + polling",
                     partial(_stack_deploy, folder, ds, "a")),
                ]  # fmt: skip
                for key, measure in deploys if turn % 2 == 0 else deploys[::-1]:
                    _settle()
                    add(key, measure())
                add("plan on the converged stack: envkit plan (process)",
                    _run(_envkit(folder, "plan", "dev"), folder))  # fmt: skip
                add("plan on the converged stack: read + observe + plan (in process)",
                    _in_process_plan(folder))  # fmt: skip
                add("no-op up: envkit up (process)", _run(_envkit(folder, "up", "dev"), folder))
                add("no-op up: envkit up (process), CPU s",
                    _cpu(_envkit(folder, "up", "dev"), folder))  # fmt: skip
                add("start-up floor: envkit validate (process)",
                    _run(_envkit(folder, "validate", "dev"), folder))  # fmt: skip
                add("start-up floor: envkit validate (process), CPU s",
                    _cpu(_envkit(folder, "validate", "dev"), folder))  # fmt: skip
                add("no-op: docker stack deploy (unchanged file, no wait)",
                    _run([*DOCKER, "stack", "deploy", "-c", "compose.yml", ds], folder))  # fmt: skip
                _poll(ds)  # the no-op deploy's updates done before the rolling update
                (folder / "envkit.yaml").write_text(_stack_file(ek, "b", True), encoding="utf-8")
                updates = [
                    ("one-service rolling update: envkit up",
                     partial(_run, _envkit(folder, "up", "dev"), folder)),
                    ("one-service rolling update: docker stack deploy + polling",
                     partial(_stack_deploy, folder, ds, "b", service="s0")),
                ]  # fmt: skip
                for key, measure in updates if turn % 2 == 0 else updates[::-1]:
                    _settle()
                    add(key, measure())
            finally:
                subprocess.run(_envkit(folder, "down", "dev"), capture_output=True)
                subprocess.run([*DOCKER, "stack", "rm", ds], capture_output=True)
                _settle()  # docker stack rm returns before the tasks are gone
    width = max(len(k) for k in results)
    print(f"{'measure':<{width}}  median s   runs")
    for key, values in results.items():
        runs = " ".join(f"{v:.2f}" for v in values)
        print(f"{key:<{width}}  {statistics.median(values):8.2f}   {runs}")
    load_after = os.getloadavg()
    print(f"load average (1/5/15 min): before {load_before[0]:.1f}/{load_before[1]:.1f}/"
          f"{load_before[2]:.1f}, after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f}"
          f" on {os.cpu_count()} CPUs")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

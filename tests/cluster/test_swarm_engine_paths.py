"""The Swarm adapter's two ways to the manager, on the 3-node test cluster: raw JSON requests
on a unix socket (what every other cluster test uses), and the docker SDK (what a TCP or ssh
manager uses; forced here on the unix socket with ``raw=False``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from envkit.engine.swarm import SwarmEngine
from envkit.reconcile.swarm_apply import swarm_down, swarm_up
from envkit.reconcile.swarm_plan import ServiceAction, swarm_plan
from envkit.stackfile.pipeline import read, resolve
from envkit.stackfile.swarmkeys import to_swarm
from envkit.swarm_model import SwarmStack

from .harness import OWNER, Cluster


def _stack(folder: Path, cluster: Cluster, owner: str, mode: str, replicas: int) -> SwarmStack:
    f = folder / "envkit.yaml"
    f.write_text(textwrap.dedent(f"""\
        stack: {owner}
        environments:
          dev: {{engine: {{swarm: "{cluster.manager_host}"}}}}
        services:
          web:
            image: {cluster.image}
            command: [sleep, "3600"]
            stop_grace_period: 200ms
            environment: {{MODE: {mode}}}
            secrets: [tok]
            deploy: {{replicas: {replicas}, endpoint_mode: dnsrr, labels: {{{OWNER}: {owner}}}}}
        secrets:
          tok: {{content: "t-{mode}"}}
    """), encoding="utf-8")  # fmt: skip
    r = resolve(read(f), "dev")
    return to_swarm(r.rendered, r.desired)


def test_the_sdk_path_creates_updates_and_removes_like_the_raw_one(
    cluster: Cluster, owner: str, tmp_path: Path
) -> None:
    engine = SwarmEngine(cluster.manager_host, raw=False)
    project = f"{owner}-dev"
    try:
        first = swarm_up(
            engine,
            _stack(tmp_path, cluster, owner, "a", 1),
            timeout=120,
            object_ids=engine.object_ids,
        )
        assert [c.action for c in first.services] == [ServiceAction.CREATE]
        rolled = swarm_up(
            engine,
            _stack(tmp_path, cluster, owner, "b", 2),
            timeout=120,
            object_ids=engine.object_ids,
        )
        assert [c.action for c in rolled.services] == [ServiceAction.ROLLING]
        raw = SwarmEngine(cluster.manager_host)  # both read the same state
        try:
            stack = _stack(tmp_path, cluster, owner, "b", 2)
            assert raw.observe_swarm(project) == engine.observe_swarm(project)
            assert swarm_plan(stack, raw.observe_swarm(project)).empty
        finally:
            raw.close()
        assert swarm_down(engine, project) > 0
        assert not engine.observe_swarm(project).services
    finally:
        swarm_down(engine, project)
        engine.close()


def test_plan_and_up_on_a_unix_socket_never_import_the_sdk(
    cluster: Cluster, owner: str, tmp_path: Path
) -> None:
    _stack(tmp_path, cluster, owner, "a", 1)
    code = textwrap.dedent(f"""\
        import sys
        from envkit.cli.main import main
        for argv in (["plan", "dev"], ["up", "dev"], ["up", "dev"], ["down", "dev"]):
            assert main(["-f", {str(tmp_path / "envkit.yaml")!r}, *argv]) == 0, argv
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("docker", "requests")))
    """)
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    finally:
        engine = SwarmEngine(cluster.manager_host)
        swarm_down(engine, f"{owner}-dev")
        engine.close()
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[-1] == "[]"  # the modules loaded

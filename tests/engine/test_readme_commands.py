"""Every shell command in the README's code blocks (```sh, ```bash, ```console, and the
``$ `` lines of ```text sessions), run exactly as written, or listed in EXCLUDED with the
reason it cannot run here. A session's shown output is checked against what envkit prints.

The commands run from a copy of the repository root (the README's commands are written for
the root: ``stacks/...`` paths), whose stack files carry a unique stack name and free host
ports instead of ``databases``/``web`` and 3306-3308/8080: the commands stay as written, and
a developer's own ``databases-dev`` (or another test's) is never touched. Everything the
commands make is removed by that stack name afterwards, even when a command fails.

A command that appears in the README and is neither run here nor excluded fails
:func:`test_every_readme_command_is_run_or_excluded`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from envkit.model import LABEL

from .cleanup import remove_labelled
from .conftest import ROOT
from .images_support import free_port

pytestmark = pytest.mark.engine

README = ROOT / "README.md"

# Commands that cannot run here, exactly as written, with the reason.
EXCLUDED = {
    "bash scripts/demo.sh": "the whole machine setup, then the real databases on 3306-3308: "
    ".ci/run runs it; tests/engine/test_databases_demo.py runs the demo on free ports",
    "bash .ci/run": "the whole CI job, which runs this test (it would run itself)",
    "python3 -m pytest": "the whole test suite, which runs this test (it would run itself)",
    "docker -H unix:///run/envkit-cluster/n1.sock node ls": "needs the offline test cluster "
    "(scripts/cluster-setup.sh), which tests/cluster covers",
}
EXCLUDED_BLOCKS = {
    "envkit bundle save dev -o shop.envkit.tar.gz": "images onto a Swarm through a registry: "
    "needs the prod Swarm it names; tests/cluster/test_swarm_images.py runs each step on the "
    "offline test cluster",
    "envkit bundle load shop.envkit.tar.gz --engine ssh://root@node1 --engine ssh://root@node2 "
    "--engine ssh://root@node3": "images onto every node of a Swarm: needs the nodes it names; "
    "tests/cluster/test_swarm_images.py loads onto the test cluster's three engines",
    "envkit -f stack.yaml bundle save release": "the bundle walk-through: placeholders "
    "(FILE, stack.yaml, a registry at 10.0.0.5); tests/engine/test_bundle.py runs each step",
}


@dataclass(frozen=True)
class Block:
    lang: str
    line: int  # of the opening fence, 1-based
    commands: tuple[str, ...]
    body: tuple[str, ...] = ()  # the block's lines as written


def shell_blocks(text: str) -> list[Block]:
    """The README's shell code blocks and the commands in each: for sh/bash every line
    that is not blank or a comment (a trailing ``\\`` joins the next), for console the lines
    after a ``$ `` prompt."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        fence = re.fullmatch(r"( *)```(sh|bash|console|text)\s*", lines[i])
        if not fence:
            i += 1
            continue
        start, body = i + 1, []
        indent = len(fence.group(1))  # a block inside a list item is indented with it
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
            i += 1
        lang = fence.group(2)
        commands = tuple(_commands(lang, body))
        if lang != "text" or commands:  # a text block is a shell session when it has a $
            blocks.append(Block(lang, start, commands, tuple(body)))
    return blocks


def _commands(lang: str, body: list[str]) -> list[str]:
    out: list[str] = []
    pending = ""
    for raw in body:
        line = raw.rstrip()
        if lang in ("console", "text"):
            if pending:
                line = pending + line
            elif line.startswith("$ "):
                line = line[2:]
            else:
                continue  # output
        else:
            line = pending + line
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        if line.strip() and not line.lstrip().startswith("#"):
            out.append(line.strip())
    return out


def _block(first: str) -> Block:
    blocks = shell_blocks(README.read_text())
    found = [b for b in blocks if b.commands and _bare(b.commands[0]) == first]
    assert len(found) == 1, f"the README has {len(found)} blocks starting with {first!r}"
    return found[0]


EVERYDAY = "export ENVKIT_FILE=stacks/databases.yaml"
CI_RECIPE = "envkit -f stacks/web.yaml up ci --ephemeral --ttl 30m --wait --json > state.json"
# A session in "How up decides": run while the everyday block has dev up.
SESSION = "DB_ROOT_PASSWORD=s3cret-new envkit -f stacks/databases.yaml plan dev"
RUN_BLOCKS = (EVERYDAY, CI_RECIPE, SESSION)


def test_every_readme_command_is_run_or_excluded() -> None:
    blocks = shell_blocks(README.read_text())
    assert len(blocks) >= 5  # the parser finds the README's blocks at all
    run = {c for first in RUN_BLOCKS for c in _block(first).commands}
    excluded_blocks = {
        c
        for b in blocks
        if b.commands and _bare(b.commands[0]) in EXCLUDED_BLOCKS
        for c in b.commands
    }
    unaccounted = [
        f"README.md:{b.line}: {c}"
        for b in blocks
        for c in b.commands
        if c not in run and _bare(c) not in EXCLUDED and c not in excluded_blocks
    ]
    assert unaccounted == [], (
        "run these README commands in tests/engine/test_readme_commands.py, or add them to "
        "EXCLUDED with the reason they cannot run here:\n" + "\n".join(unaccounted)
    )
    # Every exclusion is still in the README (a stale one would hide nothing).
    every = {_bare(c) for b in blocks for c in b.commands}
    assert set(EXCLUDED) <= every, set(EXCLUDED) - every
    assert set(EXCLUDED_BLOCKS) <= every


def _bare(command: str) -> str:
    """The command without its trailing comment (the README explains commands in them)."""
    return re.sub(r"\s+#\s.*$", "", command).strip()


# -- running them ---------------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path, docker_client: Any) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """A copy of the repository root's stacks/ under a unique stack name and free ports
    (yields the root, the name, and each port the README shows -> the copy's)."""
    name = f"r{uuid.uuid4().hex[:8]}"
    root = tmp_path / "repo"
    moved: dict[str, str] = {}
    shutil.copytree(ROOT / "stacks", root / "stacks")
    for stack, ports in (("databases", ("3307", "3308", "3306")), ("web", ("8080", "8081"))):
        path = root / "stacks" / f"{stack}.yaml"
        text = path.read_text()
        assert f"\nstack: {stack}\n" in text
        text = text.replace(f"\nstack: {stack}\n", f"\nstack: {name}{stack[0]}\n")
        for port in ports:
            assert f"_port: {port}}}" in text or f"_port: {port}\n" in text, (stack, port)
            moved[port] = str(free_port())
            text = re.sub(rf"(_port: ){port}\b", rf"\g<1>{moved[port]}", text)
        path.write_text(text)
    try:
        yield root, name, moved
    finally:
        for suffix in "dw":
            remove_labelled(docker_client, f"{LABEL.STACK}={name}{suffix}")


def _shell_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ENVKIT_FILE", None)
    # `envkit` on PATH is this checkout's (an editable install may point elsewhere).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env=_shell_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )


def _session(block: Block) -> list[tuple[str, list[str]]]:
    """A text session's commands, each with the output lines the README shows for it."""
    out: list[tuple[str, list[str]]] = []
    for line in block.body:
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out and line.strip() and line.strip() != "...":
            out[-1][1].append(line)
    return out


def test_everyday_use_commands_run_as_written(repo: tuple[Path, str, dict[str, str]]) -> None:
    root, name, moved = repo
    block = _block(EVERYDAY)
    exports = [c for c in block.commands if c.startswith("export ")]
    outputs: dict[str, str] = {}
    session_ran = False
    for command in block.commands:
        if command in exports:
            continue
        done = _run("\n".join([*exports, command]), root)
        assert done.returncode == 0, (
            f"README.md:{block.line}: `{command}` exited {done.returncode}\n"
            f"{done.stdout}\n{done.stderr}"
        )
        outputs[_bare(command)] = done.stdout + done.stderr
        if _bare(command) == "envkit up dev --wait" and not session_ran:
            _run_session(root, name, moved)  # while dev is up
            session_ran = True
    project = f"{name}d-dev"
    assert f"{project}-db-1" in outputs["envkit up dev --wait"]
    assert re.fullmatch(r"127\.0\.0\.1:\d+\n?", outputs["envkit port dev db 3306"])
    assert "is alive" in outputs["envkit exec -T dev db mariadb-admin ping"]
    assert f"{project}_data" in outputs["envkit down dev --volumes --yes"]


def _run_session(root: Path, name: str, moved: dict[str, str]) -> None:
    """The README's plan session against the dev instance that is up: each command exits 0
    and prints what the README shows (with the copy's name and ports read back)."""
    block = _block(SESSION)
    for command, shown in _session(block):
        done = _run(command, root)
        assert done.returncode == 0, f"README.md:{block.line}: `{command}`\n{done.stderr}"
        printed = (done.stdout + done.stderr).replace(f"{name}d-", "databases-")
        for original, port in moved.items():
            printed = printed.replace(f":{port}->", f":{original}->")
        missing = [line for line in shown if line not in printed.splitlines()]
        assert missing == [], f"README.md:{block.line}: `{command}` printed\n{printed}"


def test_the_ci_recipe_runs_as_written(
    repo: tuple[Path, str, dict[str, str]], docker_client: Any
) -> None:
    root, name, _ = repo
    block = _block(CI_RECIPE)
    done = _run("set -e\n" + "\n".join(block.commands), root)
    assert done.returncode == 0, f"README.md:{block.line}: exited {done.returncode}\n{done.stderr}"
    assert done.stdout.strip() == "ok"  # curl's GET /migrated
    # The trap tore the instance down.
    left = docker_client.api.containers(all=True, filters={"label": f"{LABEL.STACK}={name}w"})
    assert left == []

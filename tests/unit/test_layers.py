"""The package's layering, checked by walking every import (module level and inside
functions alike; only ``if TYPE_CHECKING:`` blocks are left out, since they never run).

Data flows stackfile -> model -> reconcile -> engine. The shell (cli, api, pytest_plugin,
watchdog) may import anything; nothing imports the shell, and no two modules import each
other, directly or through others.
"""

from __future__ import annotations

import ast
from pathlib import Path

import envkit

ROOT = Path(envkit.__file__).parent

# Which layers each layer may import (besides itself). "base" is the shared leaf modules.
BASE = {
    "envkit",
    "envkit._lazy",
    "envkit.canonical",
    "envkit.errors",
    "envkit.hints",
    "envkit.imagename",
    "envkit.limits",
    "envkit.masking",
    "envkit.model",
    "envkit.outputfile",
    "envkit.progress",
    "envkit.secretkey",
    "envkit.statedir",
    "envkit.swarm_model",
    "envkit.units",
}
ALLOWED = {
    "base": {"base"},
    "stackfile": {"base"},
    "engine": {"base"},
    "reconcile": {"base", "engine"},
    "bundle": {"base", "stackfile", "engine"},
    "shell": {"base", "stackfile", "engine", "reconcile", "bundle", "shell"},
}


def _module_name(path: Path) -> str:
    parts = ["envkit", *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    if module in BASE:
        return "base"
    second = module.split(".")[1]
    return second if second in ALLOWED else "shell"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> set[str]:
    found: set[str] = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name.startswith("envkit"))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - child.level + 1])
                    base = f"{base}.{child.module}" if child.module else base
                if not base.startswith("envkit"):
                    continue
                for alias in child.names:  # `from envkit.x import sub` may name a submodule
                    candidate = f"{base}.{alias.name}"
                    found.add(candidate if candidate in MODULES else base)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    found.discard(module)
    return {m for m in found if m in MODULES}


MODULES = {_module_name(p) for p in ROOT.rglob("*.py")}
GRAPH = {_module_name(p): _imports(p, _module_name(p)) for p in ROOT.rglob("*.py")}


def test_no_layer_imports_upward() -> None:
    wrong = sorted(
        f"{module} ({_layer(module)}) imports {target} ({_layer(target)})"
        for module, targets in GRAPH.items()
        for target in targets
        if _layer(target) != _layer(module) and _layer(target) not in ALLOWED[_layer(module)]
    )
    assert wrong == []


def test_model_imports_only_errors_masking_and_the_version() -> None:
    assert GRAPH["envkit.model"] <= {"envkit", "envkit.errors", "envkit.masking"}


def test_only_the_docker_adapter_imports_the_sdk() -> None:
    importers = set()
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n == "docker" or n.startswith("docker.") for n in names):
                importers.add(_module_name(path))
    # The engine adapters (engine/docker*.py, engine/swarm*.py) are the SDK boundary;
    # buildcontext uses docker's pure .dockerignore matcher, so a hash covers exactly what
    # a build sends, imported only when a stack has a local build.
    adapters = {
        m for m in importers if m.startswith(("envkit.engine.docker", "envkit.engine.swarm"))
    }
    assert importers - adapters <= {"envkit.stackfile.buildcontext"}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := dfs(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(GRAPH):
        if node not in state and (found := dfs(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    cycle = _cycle()
    assert cycle is None, " -> ".join(cycle or [])


def test_import_envkit_shows_only_the_public_api() -> None:
    import envkit

    assert dir(envkit) == sorted(envkit.__all__)
    assert not {"annotations", "TYPE_CHECKING", "Any", "lazy_exports"} & set(dir(envkit))

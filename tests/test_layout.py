"""The layout promises of the README: layers point one way, no import circles, no module over 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("flows", "tasks", "languages")  # each may import only those after it
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules a file imports, at the top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in names if name in modules}


def test_imports_point_down_the_layers() -> None:
    modules = _modules()
    upward = []
    for name, path in modules.items():
        rank = LAYERS.index(name.split(".")[0])
        for target in _imports(path, modules):
            if LAYERS.index(target.split(".")[0]) < rank:
                upward.append(f"{name} -> {target}")
    assert upward == []


def test_no_import_circles() -> None:
    modules = _modules()
    graph = {
        name: {t for t in _imports(path, modules) if t != name and not name.startswith(f"{t}.")}
        for name, path in modules.items()
    }
    # A package's __init__ importing its own submodules (flows.cli) is how it assembles itself.
    circles = []
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start:
                    circles.append(" -> ".join((*trail, nxt)))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, (*trail, nxt)))
    assert circles == []


def test_no_module_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): count
        for path in _modules().values()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_tasks_lists_the_stages() -> None:
    stages = sorted(p.name for p in (ROOT / "tasks").iterdir() if (p / "__init__.py").is_file())
    assert stages == ["coverage", "filter", "format", "llm", "publish", "review", "source", "state"]

"""The project's modules import one way, down a stack anyone can draw (README, "What runs where").

    ascendkit_site  <-  identity  <-  analytics  <-  accounts  <-  portal, journeys, demo

Built from the source, not from what happens to be imported: every `import` of a
project module, wherever it stands, is an edge. Tests, migrations and the bench
are left out; the root URLconf and the WSGI/ASGI entry points sit on top.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = {"ascendkit_site": 0, "identity": 1, "analytics": 2, "accounts": 3, "portal": 4, "journeys": 4, "demo": 4}
TOP_MODULES = {"ascendkit_site.urls", "ascendkit_site.wsgi", "ascendkit_site.asgi"}
LEFT_OUT = {"tests", "migrations"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_files() -> dict[str, Path]:
    files = {}
    for package in LAYERS:
        for path in (ROOT / package).rglob("*.py") if (ROOT / package).is_dir() else ():
            if not LEFT_OUT & set(path.relative_to(ROOT).parts):
                files[_module_name(path)] = path
    return files


def _imported(node: ast.AST, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            base = base[: len(base) - node.level + (1 if is_package else 0)]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        # `from package import module` names a module too.
        return [target, *(f"{target}.{alias.name}" for alias in node.names)]
    return []


def _graph() -> tuple[dict[str, set[str]], list[str]]:
    """Edges between project modules, and imports that stand inside a function or class."""
    files = _project_files()
    edges, nested = {module: set() for module in files}, []
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        top_level = set(map(id, tree.body))
        for node in ast.walk(tree):
            targets = [t for t in _imported(node, module, path.name == "__init__.py") if t in files]
            if not targets:
                continue
            edges[module].update(t for t in targets if t != module)
            if id(node) not in top_level:
                nested.append(f"{module}:{node.lineno}")
    return edges, nested


def _cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(module):
        state[module] = "open"
        stack.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[module] = "done"
        return None

    for module in sorted(edges):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_project_module_imports_another_inside_a_function():
    _, nested = _graph()
    assert nested == []


def test_the_module_graph_has_no_cycle():
    edges, _ = _graph()
    assert _cycle(edges) is None


def test_imports_point_down_the_layers():
    edges, _ = _graph()
    upward = [
        f"{module} -> {target}"
        for module, targets in edges.items()
        if module not in TOP_MODULES
        for target in targets
        if LAYERS[target.split(".")[0]] > LAYERS[module.split(".")[0]]
    ]
    assert upward == []


@pytest.mark.parametrize(
    "edges, cycle",
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"a2"}, "a2": set(), "b": {"b"}}, ["b", "b"]),
    ],
)
def test_the_cycle_finder_finds_cycles(edges, cycle):
    assert _cycle(edges) == cycle

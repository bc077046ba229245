"""The house's floors, checked on the source (an AST walk, nothing is imported):

- the library (everything but ``study`` / ``app`` / ``commands`` / ``cli``) never imports the application;
- models import no data (and no training, evaluation or application code);
- no import cycles between modules, counting function-local imports too;
- no module over the size limit.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "pixelwise"
APPLICATION = ("pixelwise.study", "pixelwise.app", "pixelwise.commands", "pixelwise.cli", "pixelwise.__main__")
MAX_LINES = 420  # "about 400"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The module a dotted import refers to (``pixelwise.a.b`` may name a function ``b`` of module ``a``)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """Every pixelwise module ``module`` imports, at any depth of its code."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in names:
            if name.startswith("pixelwise"):
                target = _resolve(name)
                if target is not None and target != module:
                    found.add(target)
    return found


GRAPH = {module: imports_of(module) for module in MODULES}


def _is_application(module: str) -> bool:
    return any(module == a or module.startswith(a + ".") for a in APPLICATION)


def test_the_walk_sees_imports() -> None:
    assert "pixelwise.registry" in GRAPH["pixelwise.models.io"]
    assert "pixelwise.models.base" in GRAPH["pixelwise.models.asapnet"]


def test_library_never_imports_the_application() -> None:
    bad = {m: sorted(t for t in targets if _is_application(t))
           for m, targets in GRAPH.items() if not _is_application(m)}
    assert {m: t for m, t in bad.items() if t} == {}


def test_models_import_no_data_training_or_evaluation() -> None:
    forbidden = ("pixelwise.data", "pixelwise.train", "pixelwise.metrics", "pixelwise.inference",
                 "pixelwise.bench", "pixelwise.export", "pixelwise.losses")
    bad = {m: sorted(t for t in targets if t.startswith(forbidden))
           for m, targets in GRAPH.items() if m.startswith("pixelwise.models")}
    assert {m: t for m, t in bad.items() if t} == {}


def test_data_imports_no_models() -> None:
    bad = {m: sorted(t for t in targets if t.startswith(("pixelwise.models", "pixelwise.registry")))
           for m, targets in GRAPH.items() if m.startswith("pixelwise.data")}
    assert {m: t for m, t in bad.items() if t} == {}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a closed path), or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycles() -> None:
    # a package's __init__ importing its own submodules (re-exports) is not a cycle of concepts
    graph = {m: {t for t in targets if not m.startswith(t + ".")} for m, targets in GRAPH.items()}
    assert find_cycle(graph) is None


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{MODULES[module]} has {lines} lines (limit ~400: split it by concept)"

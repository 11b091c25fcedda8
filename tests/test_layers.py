"""The package's layers, read from the imports: no import points up, and no module circle.

The layers, from top to bottom, are the ones docs/design.md states. A module may import
its own package's modules and any package below its own, never one above or beside it.
Imports inside functions and under ``TYPE_CHECKING`` count too: a lazy import is still a
dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cloudmotion"

LAYERS = [
    ("cli",),
    ("batch",),
    ("tools",),
    ("pipeline",),
    ("inputs",),
    ("formats",),
    ("files",),
    ("sequence",),
    ("track",),
    ("amv", "nowcast"),
    ("qc",),
    ("motion",),
    ("geo",),
    ("model",),
    ("grid",),
    ("settings",),
    ("registry",),
    ("errors",),
]
RANK = {unit: i for i, units in enumerate(LAYERS) for unit in units}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every cloudmotion module or name the file imports, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import; the package uses absolute imports")
    return {name for name in found if name.startswith("cloudmotion.")}


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str | None:
    """The module an imported name lives in (``a.b.C`` -> ``a.b``)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    return {mod: {m for m in map(_resolve, _imports(p)) if m and m != mod} for mod, p in MODULES.items()}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_unit_has_a_layer():
    units = {_unit(m) for m in MODULES} - {"__init__", "__main__"}
    assert units <= set(RANK), f"packages or root modules without a layer: {sorted(units - set(RANK))}"


def test_no_import_points_up_or_sideways():
    bad = []
    for mod, targets in _graph().items():
        for target in targets:
            a, b = _unit(mod), _unit(target)
            if a == b or "__init__" in (a, b):
                continue
            if RANK[b] <= RANK[a]:
                bad.append(f"{mod} -> {target}")
    assert not bad, "imports against the layers:\n" + "\n".join(sorted(bad))


def test_no_import_circle():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                raise AssertionError("import circle: " + " -> ".join(stack[stack.index(nxt) :] + [nxt]))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_root_holds_at_most_twelve_modules():
    root = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(root) <= 12, root


def test_modules_stay_small():
    big = {mod: n for mod, p in MODULES.items() if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert not big, f"modules over 400 lines: {big}"

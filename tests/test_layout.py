"""The package's shape: imports run one way, only the backend touches a framework.

The layers, lowest first.  A module may import its own layer's modules only
inside its own package, and any lower layer; never a higher one.  Two modules
never import each other (directly or through a longer cycle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "modelsec_edu"

LAYERS = [
    {"validation"},
    {"backend"},
    {"runtime"},
    {"data", "plots"},
    {"models"},
    {"supply_chain"},
    {"evasion"},
    {"poisoning", "privacy"},
    {"tampering", "extraction"},
    {"zoo"},
    {"outlook"},
    {"exercises", "widgets"},
]
RANK = {name: i for i, layer in enumerate(LAYERS) for name in layer}
FRAMEWORKS = ("tensorflow", "jax", "jaxlib", "torch")
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = f.relative_to(PKG.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Every module of ours or framework that ``name`` imports, at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            found.add(mod)
            for a in node.names:  # `from pkg import submodule`
                if f"{mod}.{a.name}" in MODULES:
                    found.add(f"{mod}.{a.name}")
    found.discard(name)  # `from . import sub` inside a package's __init__
    return found


GRAPH = {
    name: {m for m in _imports(name, p) if m in MODULES or m.split(".")[0] in FRAMEWORKS}
    for name, p in MODULES.items()
}


def _top(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_top_level_unit_has_a_layer():
    tops = {_top(n) for n in MODULES} - {None}
    assert tops <= set(RANK), f"give these a layer in LAYERS: {sorted(tops - set(RANK))}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_only_the_backend_imports_a_framework(name):
    if _top(name) == "backend":
        return
    bad = sorted(m for m in GRAPH[name] if m.split(".")[0] in FRAMEWORKS)
    assert not bad, f"{name} imports {bad}: only modelsec_edu.backend may"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_run_downwards(name):
    here = _top(name)
    if here is None:
        return
    for dep in GRAPH[name]:
        there = _top(dep)
        if dep.split(".")[0] in FRAMEWORKS or there is None or there == here:
            continue
        assert RANK[there] < RANK[here], (
            f"{name} (layer {RANK[here]}, {here}) imports {dep} (layer {RANK[there]}, {there}): "
            "a lower layer, or another package of the same layer, may not be imported"
        )


def test_no_import_cycles():
    own = {n: {d for d in deps if d in MODULES} for n, deps in GRAPH.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for d in own[n]:
            # a package's __init__ importing its own submodules is how packages work; a
            # submodule importing its package's __init__ back is a cycle like any other
            if d.startswith(n + "."):
                continue
            if state.get(d) == 1:
                cycle = stack[stack.index(d) :] + [d]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if d not in state:
                visit(d)
        stack.pop()
        state[n] = 2

    for n in sorted(own):
        if n not in state:
            visit(n)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_readable(name):
    lines = MODULES[name].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it (limit {MAX_LINES})"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_has_a_docstring(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), (
        f"{name} needs a docstring (what it holds, its threat model, its paper)"
    )

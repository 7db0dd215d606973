"""The package's layers point one way and nothing imports in a circle (imports inside functions too).

Layers, lowest first (docs/architecture.md): the root (warehouse, store, errors, _toml) →
``data`` → ``geo`` → the analysis wings → ``programmes``, ``evaluation`` → ``outputs`` →
``cli``, ``web``. A module may import from its own layer or a lower one; wings of one layer
may use each other only without a circle between wings.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = "neighbourhood_lens"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

#: Layer of each wing; the root modules are layer 0.
LAYERS: dict[str, int] = {
    "": 0,
    "data": 1,
    "geo": 2,
    "deprivation": 3,
    "neighbourhoods": 3,
    "funding": 3,
    "indices": 3,
    "outcomes": 3,
    "programmes": 4,
    "evaluation": 4,
    "outputs": 5,
    "cli": 6,
    "web": 6,
}


def module_name(path: Path, src: Path = SRC) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGE, *parts])


def imports_of(path: Path, src: Path = SRC) -> list[tuple[str, int]]:
    """Every package module ``path`` imports, anywhere in the file, with its line (``TYPE_CHECKING`` too)."""
    me = module_name(path, src)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == PACKAGE]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:  # ``from pkg import module`` imports the module
                sub = f"{target}.{alias.name}"
                out.append((sub if module_path(sub, src) else target, node.lineno))
    return out


def module_path(name: str, src: Path = SRC) -> Path | None:
    parts = name.split(".")[1:]
    if not parts:
        return src / "__init__.py"
    rel = Path(*parts)
    for candidate in (src / rel.with_suffix(".py"), src / rel / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def wing(name: str, src: Path = SRC) -> str:
    """The wing (subpackage) a module belongs to; ``""`` for the root modules."""
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and (src / parts[1]).is_dir() else ""


def import_graph(src: Path = SRC) -> dict[str, list[tuple[str, int]]]:
    graph: dict[str, list[tuple[str, int]]] = {}
    for path in sorted(src.rglob("*.py")):
        graph[module_name(path, src)] = [(t, line) for t, line in imports_of(path, src) if module_path(t, src)]
    return graph


def upward_imports(graph: dict[str, list[tuple[str, int]]], src: Path = SRC) -> list[str]:
    bad = []
    for mod, targets in graph.items():
        if mod == PACKAGE:
            continue  # the root __init__ only sets the version
        for target, line in targets:
            a, b = wing(mod, src), wing(target, src)
            if a not in LAYERS or b not in LAYERS:
                bad.append(f"{mod}: wing {a or b!r} has no layer in tests/test_layers.py LAYERS")
            elif LAYERS[b] > LAYERS[a]:
                bad.append(f"{mod} (line {line}, layer {LAYERS[a]}) imports {target} (layer {LAYERS[b]})")
    return bad


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def module_edges(graph: dict[str, list[tuple[str, int]]]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, targets in graph.items():
        for target, _ in targets:
            # importing a package's submodule runs the package __init__ first, but that is not a
            # dependency of the submodule's code: count only the named module
            if target != mod:
                edges[mod].add(target)
    return edges


def wing_edges(graph: dict[str, list[tuple[str, int]]], src: Path = SRC) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, targets in graph.items():
        for target, _ in targets:
            a, b = wing(mod, src), wing(target, src)
            if a and b and a != b:
                edges[a].add(b)
    return edges


def test_no_upward_imports() -> None:
    assert upward_imports(import_graph()) == []


def test_no_module_import_cycles() -> None:
    assert cycles(module_edges(import_graph())) == []


def test_no_wing_import_cycles() -> None:
    assert cycles(wing_edges(import_graph())) == []


def test_every_wing_has_a_layer_and_a_documented_init() -> None:
    for init in SRC.glob("*/__init__.py"):
        assert init.parent.name in LAYERS, f"wing {init.parent.name} needs a layer in LAYERS"
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc.splitlines()[0]) > 20, f"{init} needs a docstring saying what the wing does"


@pytest.fixture
def tiny_package(tmp_path: Path) -> Path:
    src = tmp_path / PACKAGE
    for sub in ("data", "geo", "deprivation"):
        (src / sub).mkdir(parents=True)
        (src / sub / "__init__.py").write_text('"""A wing."""\n')
    (src / "__init__.py").write_text("")
    (src / "errors.py").write_text("")
    (src / "data" / "build.py").write_text("from neighbourhood_lens.errors import x\n")
    (src / "geo" / "units.py").write_text("from ..data import build\n")
    return src


def test_the_checks_fail_on_an_upward_import_and_a_circle(tiny_package: Path) -> None:
    graph = import_graph(tiny_package)
    assert graph["neighbourhood_lens.geo.units"] == [("neighbourhood_lens.data.build", 1)]
    assert cycles(module_edges(graph)) == [] and upward_imports(graph, tiny_package) == []
    # an import inside a function of the data wing that reaches up into geo
    (tiny_package / "data" / "build.py").write_text(
        "from neighbourhood_lens.errors import x\n\ndef f():\n    from neighbourhood_lens.geo.units import y\n"
    )
    graph = import_graph(tiny_package)
    assert cycles(module_edges(graph)) == [["neighbourhood_lens.data.build", "neighbourhood_lens.geo.units"]]
    assert cycles(wing_edges(graph, tiny_package)) == [["data", "geo"]]
    assert upward_imports(graph, tiny_package) == [
        "neighbourhood_lens.data.build (line 4, layer 1) imports neighbourhood_lens.geo.units (layer 2)"
    ]

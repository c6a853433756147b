"""No import cycles inside ``pipeline/``: the module graph, read from the source with
``ast``, is acyclic.

Every import counts, wherever it is written: at the top, under ``if TYPE_CHECKING:``,
and inside functions. A cycle hidden behind a lazy or type-only import is still two
modules that each need the other, which is what makes a package hard to test and split.

Run as a script to see the graph's size and any cycles:
``.venv/bin/python tests/unit/test_import_cycles.py``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "pipeline"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> Iterator[str]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            # relative: from the module's package, one level up per extra dot
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        for alias in node.names:
            # `from pipeline.gateway import envelope` imports the submodule
            sub = f"{target}.{alias.name}"
            yield sub if sub in known else target


def import_graph(root: Path = ROOT, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports (itself excluded)."""
    files = sorted((root / package).rglob("*.py"))
    known = {module_name(p, root) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        module = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        edges = graph.setdefault(module, set())
        for node in ast.walk(tree):
            for target in _imported(node, module, is_package, known):
                if target in known and target != module:
                    edges.add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected component of more than one module, with one cycle through
    it spelled out (Tarjan's algorithm, iterative so deep graphs cannot overflow)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                members = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    members.append(m)
                    if m == node:
                        break
                if len(members) > 1:
                    components.append(_one_cycle(graph, set(members)))
    return components


def describe(cycle: list[str], graph: dict[str, set[str]]) -> str:
    """One cycle, and every import edge among the modules of its component."""
    members = set(find_component(graph, cycle[0]))
    edges = sorted(f"{a} -> {b}" for a in members for b in graph[a] if b in members)
    return " -> ".join(cycle) + f"\n    ({len(members)} modules import each other: " + \
        "; ".join(edges) + ")"


def reach(start: str, edges: dict[str, set[str]]) -> set[str]:
    """``start`` and every module it reaches."""
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def find_component(graph: dict[str, set[str]], node: str) -> list[str]:
    """The modules that ``node`` reaches and that reach it back."""
    reverse: dict[str, set[str]] = {}
    for a, bs in graph.items():
        for b in bs:
            reverse.setdefault(b, set()).add(a)
    return sorted(reach(node, graph) & reach(node, reverse))


def _one_cycle(graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """A shortest cycle through the first member, as a path that returns to its start."""
    start = min(members)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child == start:
                    return [*paths[node], start]
                if child in members and child not in paths:
                    paths[child] = [*paths[node], child]
                    nxt.append(child)
        frontier = nxt
    return sorted(members)  # unreachable for a strongly connected component


def test_pipeline_has_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 20, "the graph is suspiciously small: is ROOT right?"
    cycles = find_cycles(graph)
    assert not cycles, "import cycles inside pipeline/ (every import counts, TYPE_CHECKING " \
        "and function-level ones too); break each by moving what both sides need into a " \
        "module of its own or by passing an object in:\n" + \
        "\n".join("  " + describe(c, graph) for c in cycles)


def test_the_checker_sees_type_checking_relative_and_lazy_imports(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..c import x\n")
    (pkg / "c.py").write_text("import pkg.a\nx = 1\n")
    (pkg / "d.py").write_text("from pkg import a\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.a"] == {"pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.c"}
    assert graph["pkg.d"] == {"pkg.a"}
    assert find_cycles(graph) == [["pkg.a", "pkg.sub.b", "pkg.c", "pkg.a"]]
    (pkg / "c.py").write_text("x = 1\n")
    assert find_cycles(import_graph(tmp_path, "pkg")) == []



def test_the_services_do_not_import_the_local_stack_launcher() -> None:
    """The worker and the gateway run against any Kafka and ClickHouse; only `hj212 run`,
    `hj212 stack` and the tests start local servers."""
    graph = import_graph()
    for service in ("pipeline.stream.cli", "pipeline.gateway.cli"):
        launched = sorted(m for m in reach(service, graph)
                          if m.startswith("pipeline.stack"))
        assert launched == [], f"{service} reaches {launched}"

if __name__ == "__main__":
    g = import_graph()
    found = find_cycles(g)
    print(f"{len(g)} modules, {sum(len(v) for v in g.values())} import edges inside "
          f"{PACKAGE}/; {len(found)} cycle(s)")
    for c in found:
        print("  " + describe(c, g))
    sys.exit(1 if found else 0)

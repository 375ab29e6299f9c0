"""The package's modules import each other without a cycle (two modules that import each other,
such as predict/scan.py and predict/driver.py, can be neither read nor changed alone). Imports
inside functions count too: a lazy import hides a cycle from Python at start-up, not from a reader."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
# The code beside the package, each tree with the folder its modules are imported from: the
# benchmarks are scripts that import each other by bare name (their folder is sys.path[0]).
OTHER_TREES = {
    "benchmarks": REPO / "benchmarks",
    "studies": REPO / "studies",
    "tools": REPO / "tools",
    "rehearsals": REPO,
}


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(tree: Path = SRC / "patch2loc", root: Path = SRC) -> dict[str, set[str]]:
    modules = {module_name(p, root): p for p in tree.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import mod` imports the module pkg.mod when there is one
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module
                    for a in node.names
                ]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert graph["patch2loc.predict.scan"] >= {"patch2loc.predict.preflight"}  # the graph sees lazy imports
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_code_beside_the_package_has_no_import_cycle():
    """benchmarks/, studies/, tools/ and rehearsals/ are held to the package's rule: one module readable alone."""
    assert "rehearsals.real.checks" in import_graph(REPO / "rehearsals", REPO)["rehearsals.real.run"]
    for tree, root in OTHER_TREES.items():
        cycle = find_cycle(import_graph(REPO / tree, root))
        assert cycle is None, f"{tree}: " + " -> ".join(cycle)


def folder_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph of the package's folders (`patch2loc.scoring`, ...): a module stands for its folder."""

    def folder(module: str) -> str:
        return ".".join(module.split(".")[:2])

    folders: dict[str, set[str]] = {}
    for name, targets in graph.items():
        folders.setdefault(folder(name), set()).update(folder(t) for t in targets if folder(t) != folder(name))
    return folders


def edges_in_cycles(folders: dict[str, set[str]]) -> set[tuple[str, str]]:
    """The folder edges a -> b that lie on a cycle (b reaches a back)."""

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in folders.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reached = {f: reach(f) for f in folders}
    return {(a, b) for a in folders for b in folders[a] if a in reached.get(b, ())}


def test_the_folders_have_no_import_cycle():
    """A folder is a concept (docs/architecture.md): the scoring core once imported its metrics from
    `evaluation/`, which imports the core, so neither could be read without the other."""
    assert edges_in_cycles(
        folder_graph({"p.a.x": {"p.b.y"}, "p.b.y": {"p.a.z"}, "p.a.z": {"p.c.w"}, "p.c.w": set()})
    ) == {
        ("p.a", "p.b"),
        ("p.b", "p.a"),
    }
    folders = folder_graph(import_graph())
    assert "patch2loc.evaluation" not in folders["patch2loc.scoring"]
    found = {(a.removeprefix("patch2loc."), b.removeprefix("patch2loc.")) for a, b in edges_in_cycles(folders)}
    assert not found, f"folders importing each other: {sorted(found)}"


def layers(folders: dict[str, set[str]]) -> list[list[str]]:
    """The folders by height, top first: a folder sits one line above the highest folder it imports."""
    height: dict[str, int] = {}

    def of(name: str) -> int:
        if name not in height:
            height[name] = 1 + max((of(m) for m in folders.get(name, ())), default=-1)
        return height[name]

    for name in folders:
        of(name)
    return [sorted(n for n in height if height[n] == h) for h in sorted(set(height.values()), reverse=True)]


def test_the_architecture_drawing_is_the_import_graph():
    """docs/architecture.md draws the folders by layer; a folder that starts importing one above it
    moves in the drawing, so the drawing is redrawn with it (no folder ever imports one above it)."""
    assert layers({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == [["a"], ["b"], ["c"]]
    folders = {
        a.removeprefix("patch2loc."): {b.removeprefix("patch2loc.") for b in bs if b != "patch2loc"}
        for a, bs in folder_graph(import_graph()).items()
        if a != "patch2loc"  # the package's own __init__ (its version)
    }
    doc = (SRC.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = doc.split("<!-- layers:start -->")[1].split("<!-- layers:end -->")[0]
    drawn = [line.split() for line in block.strip().strip("`").strip().splitlines()]
    assert drawn == layers(folders), "redraw docs/architecture.md's layers:\n" + "\n".join(
        " ".join(line) for line in layers(folders)
    )


def test_the_evaluation_subpackages_have_no_import_cycle():
    """evaluation/ is split by concept (dataset, patches, tables, comparisons, figures, report,
    challenges, lesionwise); each subpackage imports only those below it, like the folders."""
    graph = import_graph()

    def sub(module: str) -> str | None:
        parts = module.split(".")
        return ".".join(parts[:3]) if parts[:2] == ["patch2loc", "evaluation"] and len(parts) > 3 else None

    subs: dict[str, set[str]] = {}
    for name, targets in graph.items():
        if (here := sub(name)) is not None:
            subs.setdefault(here, set()).update(s for t in targets if (s := sub(t)) is not None and s != here)
    assert {"patch2loc.evaluation.dataset", "patch2loc.evaluation.tables", "patch2loc.evaluation.report"} <= set(subs)
    found = {
        (a.removeprefix("patch2loc.evaluation."), b.removeprefix("patch2loc.evaluation."))
        for a, b in edges_in_cycles(subs)
    }
    assert not found, f"evaluation subpackages importing each other: {sorted(found)}"
    flat = sorted(p.name for p in (SRC / "patch2loc" / "evaluation").glob("*.py") if p.name != "__init__.py")
    assert not flat, f"a module directly under evaluation/ (put it in the subpackage of its concept): {flat}"

"""Functions stay short enough to read in one screen: none in src/patch2loc, benchmarks/, studies/,
tools/ or rehearsals/real/ over MAX_LINES lines, counted from `def` to its last line (docstring and comments
included). Modules stay under MODULE_LINES lines everywhere: the package, the code beside it, the
tests, the workflow's scripts and the rehearsals. `python tests/static/test_function_length.py`
prints what is over either limit.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "patch2loc"
# The code beside the package, held to the same limits (and to MODULE_LINES as a failure).
BESIDE = (REPO / "benchmarks", REPO / "studies", REPO / "tools", REPO / "rehearsals" / "real")
MAX_LINES = 80
MODULE_LINES = 300
# Held to MODULE_LINES too: the tests and the workflow's own Python.
MODULES_ONLY = tuple(REPO / d for d in ("tests", "workflow", "rehearsals"))


def function_lengths(source: str) -> list[tuple[int, int, str]]:
    """(lines, first line, qualified name) of every function, nested ones and methods included."""
    found: list[tuple[int, int, str]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append((child.end_lineno - child.lineno + 1, child.lineno, prefix + child.name))
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(ast.parse(source), "")
    return found


def checked_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py")) + beside_files()


def beside_files() -> list[Path]:
    return [p for tree in BESIDE for p in sorted(tree.rglob("*.py"))]


def long_functions(limit: int = MAX_LINES) -> list[str]:
    rows = []
    for path in checked_files():
        for lines, line, name in function_lengths(path.read_text(encoding="utf-8")):
            if lines > limit:
                rows.append(f"{path.relative_to(REPO).as_posix()}:{line} {name}: {lines} lines")
    return rows


def long_modules(limit: int = MODULE_LINES, files: list[Path] | None = None) -> list[str]:
    return [
        f"{p.relative_to(REPO).as_posix()}: {n} lines"
        for p in (checked_files() if files is None else files)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > limit
    ]


def test_the_measure_counts_a_long_function():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    source = f"class A:\n    def f(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n"
    assert function_lengths(source) == [(MAX_LINES + 1, 2, "A.f")]


def test_no_function_is_over_the_limit():
    assert long_functions() == [], "split these into named steps:\n" + "\n".join(long_functions())


def every_python_file() -> list[Path]:
    return checked_files() + [p for tree in MODULES_ONLY for p in sorted(tree.rglob("*.py"))]


def test_no_module_is_over_the_limit():
    files = every_python_file()
    assert len(beside_files()) > 20 and any("tests" in p.parts for p in files)  # the trees are found
    found = long_modules(files=files)
    assert found == [], "split these by sub-feature:\n" + "\n".join(found)


if __name__ == "__main__":
    print("\n".join(long_functions() + long_modules(files=every_python_file())))

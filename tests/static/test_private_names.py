"""A module's private names stay in it, and a name is imported from its home.

A leading underscore says "only this module uses it": a second module that imports one depends on
what its owner may change without notice, so a name another module needs is public. An import kept
only for other modules (`from home import name  # noqa: F401`) gives one name two homes, and
readers and `farm-studio walk` follow the wrong one: importers name the home instead. A package's
`__init__` and a method's registry module state their API in `__all__`, which is not this.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TREES = ("src", "tests", "workflow", "benchmarks", "studies", "tools", "rehearsals")
OURS = ("patch2loc", "tests", "benchmarks", "studies", "tools", "rehearsals")


def private_imports(source: str) -> list[tuple[int, str, str]]:
    """(line, module, name) of each `from <ours> import _name` in `source`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in OURS:
            found += [(node.lineno, node.module, a.name) for a in node.names if a.name.startswith("_")]
    return [f for f in found if not f[2].startswith("__")]


def _python_files():
    for tree in TREES:
        yield from sorted((REPO / tree).rglob("*.py"))


def test_no_module_imports_another_modules_private_name():
    found = [
        f"{path.relative_to(REPO)}:{line}: {name} of {module} (make it public in its home)"
        for path in _python_files()
        for line, module, name in private_imports(path.read_text(encoding="utf-8"))
    ]
    assert not found, found


def test_no_module_keeps_an_import_only_for_others():
    found = [
        f"{path.relative_to(REPO)}:{number}: {line.strip()}"
        for path in sorted((REPO / "src" / "patch2loc").rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "noqa: F401" in line
    ]
    assert not found, f"imported for others, not used here (import it from its home): {found}"


def test_the_check_sees_a_private_import():
    source = "from patch2loc.scoring.metrics import auprc, _hidden\nfrom os import _exit\n"
    assert private_imports(source) == [(1, "patch2loc.scoring.metrics", "_hidden")]

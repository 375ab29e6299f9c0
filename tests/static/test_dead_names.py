"""No dead names: every function, class and constant defined at a module's top level in the package
is used somewhere (the package, the rules, the scripts, the tests, the benchmarks, the tools), so a
reader never studies code that nothing runs. Names the method interface asks for by convention
(registry.py: `Settings`, `RULES`, `RANGES`) and dunder names count as used."""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "patch2loc"
INTERFACE = {"Settings", "RULES", "RANGES", "main"}
WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _sources() -> list[Path]:
    found = [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]
    for folder in sorted(p for p in REPO.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if folder.name not in ("results", "data", "docs"):
            found += sorted(folder.rglob("*.py"))
    return found


def defined(text: str) -> list[tuple[int, str]]:
    """(line, name) of each top-level function, class and assigned name of a module."""
    out = []
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.append((node.lineno, node.name))
        elif isinstance(node, ast.Assign):
            out += [(node.lineno, t.id) for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            out.append((node.lineno, node.target.id))
    return [(line, name) for line, name in out if not name.startswith("__") and name not in INTERFACE]


def dead(modules: dict[str, str], everything: Counter) -> list[str]:
    """'module:line: name' for each name `modules` define that appears nowhere but its definition."""
    return [
        f"{path}:{line}: {name}"
        for path, text in modules.items()
        for line, name in defined(text)
        if everything[name] <= 1
    ]


def test_no_package_name_is_dead():
    texts = {p: p.read_text(encoding="utf-8", errors="replace") for p in _sources()}
    everything = Counter(w for text in texts.values() for w in WORD.findall(text))
    modules = {str(p.relative_to(REPO)): t for p, t in texts.items() if p.is_relative_to(PACKAGE)}
    assert dead(modules, everything) == []


def test_a_dead_name_is_found():
    text = "LIVE = 1\nDEAD_TABLE = (1, 2)\n\n\ndef used():\n    return LIVE\n"
    everything = Counter(WORD.findall(text + "used()\n"))
    assert dead({"m.py": text}, everything) == ["m.py:2: DEAD_TABLE"]

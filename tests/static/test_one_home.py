"""One home each: a name is imported from the module that defines it, never through
another module that happens to import it too, so moving or changing it touches one file and a
reader finds it at once. HOMES: InputError in patch2loc.errors, the staged writers in
patch2loc.files.staging, the methods a run scores (`run_methods`, the rules' RUN_METHODS) in the registry."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STAGING = ("atomic_output", "OutputSet", "TEMP_MARK", "remove_stale_temps", "owner_alive", "folder_lock")
HOMES = {
    "InputError": "patch2loc.errors",
    "run_methods": "patch2loc.registry",
    **dict.fromkeys(STAGING, "patch2loc.files.staging"),
}
_SMK_IMPORT = re.compile(r"^\s*from (patch2loc[\w.]*) import ([\w, ]+)", re.M)


def imports_elsewhere(text: str, python: bool = True) -> list[tuple[int, str, str]]:
    """(line, imported name, module) of each import of a HOMES name from another patch2loc module."""
    found = []
    if python:
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("patch2loc"):
                found += [
                    (node.lineno, a.name, node.module)
                    for a in node.names
                    if HOMES.get(a.name, node.module) != node.module
                ]
    else:  # the rules (Snakemake's syntax): their one-line imports
        for m in _SMK_IMPORT.finditer(text):
            for n in (x.strip() for x in m.group(2).split(",")):
                if HOMES.get(n, m.group(1)) != m.group(1):
                    found.append((text.count("\n", 0, m.start()) + 1, n, m.group(1)))
    return found


def test_the_check_finds_an_import_through_another_module():
    assert imports_elsewhere("from patch2loc.files.io import InputError, load_case\n") == [
        (1, "InputError", "patch2loc.files.io")
    ]
    assert imports_elsewhere("from patch2loc.errors import InputError\n") == []
    assert imports_elsewhere("from patch2loc.files.outputs import check_output\n") == []
    assert imports_elsewhere("from patch2loc.files.io import InputError  # noqa\n", python=False)


def test_every_import_is_from_the_home():
    python = [
        p
        for d in ("src", "tests", "benchmarks", "studies", "tools", "workflow", "rehearsals")
        for p in sorted((REPO / d).rglob("*.py"))
    ]
    rules = sorted((REPO / "rules").glob("*.smk")) + [REPO / "Snakefile"]
    found = [
        f"{path.relative_to(REPO)}:{line}: {name} from {module} (its home: {HOMES[name]})"
        for paths, is_python in ((python, True), (rules, False))
        for path in paths
        for line, name, module in imports_elsewhere(path.read_text(encoding="utf-8"), is_python)
    ]
    assert not found, "\n".join(found)


def test_the_modules_that_imported_them_do_not_pass_them_on():
    """io and outputs no longer re-export the staged writers (a forgotten `from patch2loc.files.outputs
    import atomic_output` fails at once, not after a later clean-up)."""
    import patch2loc.files.io
    import patch2loc.files.outputs

    assert not [n for n in STAGING if hasattr(patch2loc.files.outputs, n)]
    assert not hasattr(patch2loc.files.io, "OutputSet") and not hasattr(patch2loc.files.outputs, "atomic_output")
    rules = (REPO / "rules" / "common.smk").read_text(encoding="utf-8")
    assert re.search(r"^RUN_METHODS = run_methods\(config\)$", rules, re.M), (
        "RUN_METHODS: from the registry's run_methods"
    )

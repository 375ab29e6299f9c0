"""What runs in CI is told by a file's name: the hostile-input batteries, left out of CI (marker
`hostile`, `make test-hostile`), are the files named `test_battery_*.py`, and only they carry the
marker, on the whole module (`pytestmark`), so no battery case slips into CI and no CI test hides
behind the marker. The quick refusal tests in CI are the other files (`test_*_hostile.py` among them)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PREFIX = "test_battery_"


def _marks_hostile(node: ast.AST) -> bool:
    """`pytest.mark.hostile` (or `mark.hostile`) anywhere under `node`."""
    return any(isinstance(n, ast.Attribute) and n.attr == "hostile" for n in ast.walk(node))


def _module_mark(tree: ast.Module) -> bool:
    """A top-level `pytestmark = ...` that names the hostile marker."""
    return any(
        isinstance(stmt, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets)
        and _marks_hostile(stmt.value)
        for stmt in tree.body
    )


def violations(files: dict[str, str]) -> list[str]:
    """One line per test file (name -> source) that breaks the rule."""
    out = []
    for name, text in sorted(files.items()):
        tree = ast.parse(text)
        battery = Path(name).name.startswith(PREFIX)
        if battery and not _module_mark(tree):
            out.append(f"{name}: a battery file must set `pytestmark = pytest.mark.hostile`")
        elif not battery and _marks_hostile(tree):
            out.append(f"{name}: only files named {PREFIX}*.py carry the hostile marker; rename it or drop the mark")
    return out


def test_the_batteries_are_the_files_named_for_them_and_no_others():
    files = {
        str(p.relative_to(REPO)): p.read_text(encoding="utf-8")
        for p in sorted((REPO / "tests").rglob("test_*.py"))
        if p.name != Path(__file__).name  # this file names the marker in its examples
    }
    assert sum(Path(n).name.startswith(PREFIX) for n in files) >= 10  # the batteries are found
    assert violations(files) == []


def test_the_rule_sees_both_kinds_of_breach():
    marked = "import pytest\npytestmark = pytest.mark.hostile\n\ndef test_a():\n    pass\n"
    one_test = "import pytest\n\n@pytest.mark.hostile\ndef test_a():\n    pass\n"
    plain = "def test_a():\n    pass\n"
    assert violations({"tests/x/test_battery_a.py": marked, "tests/x/test_a_hostile.py": plain}) == []
    found = violations(
        {
            "tests/x/test_battery_b.py": plain,  # a battery that CI would run
            "tests/x/test_battery_c.py": one_test,  # marked per test only
            "tests/x/test_d_hostile.py": marked,  # left out of CI under a CI name
        }
    )
    assert [line.split(":")[0] for line in found] == [
        "tests/x/test_battery_b.py",
        "tests/x/test_battery_c.py",
        "tests/x/test_d_hostile.py",
    ]

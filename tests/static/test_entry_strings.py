"""Every `module:function` a test names as a string (the hostile batteries call entry points in a
child process by name, tests/helpers/hostile_child.py) exists: a function renamed or moved fails
here, in CI, rather than as a traceback in a battery that runs outside CI (`make test-hostile`)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENTRY = re.compile(r"[\"'](patch2loc(?:\.\w+)+):(\w+)[\"']")


def entry_strings(text: str) -> list[tuple[str, str]]:
    return ENTRY.findall(text)


def test_every_entry_a_test_names_exists():
    missing = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        for module, name in entry_strings(path.read_text(encoding="utf-8")):
            if not hasattr(importlib.import_module(module), name):
                missing.append(f"{path.relative_to(REPO)}: {module}:{name}")
    assert not missing, missing


def test_the_pattern_sees_an_entry():
    text = 'call("patch2loc.data.unpack:extract", archive=a)'
    assert entry_strings(text) == [("patch2loc.data.unpack", "extract")]

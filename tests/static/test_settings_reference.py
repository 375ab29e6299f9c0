"""docs/settings.md is tools/settings_reference.py's output: every method block's keys, defaults and
bounds as the code has them, so the page cannot drift from the dataclasses (their one home)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _tool():
    spec = importlib.util.spec_from_file_location("settings_reference", REPO / "tools" / "settings_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_checked_in_page_is_the_generators_output():
    tool = _tool()
    assert tool.PAGE.read_text(encoding="utf-8") == tool.page(), "run python tools/settings_reference.py"


def test_a_stale_page_is_refused(tmp_path, capsys):
    tool = _tool()
    tool.PAGE = tmp_path / "settings.md"
    tool.PAGE.write_text(tool.page().replace("| `steps` | `15000` |", "| `steps` | `14000` |"), encoding="utf-8")
    tool.REPO = tmp_path
    assert tool.main(["--check"]) == 1 and "settings.md is not the code's" in capsys.readouterr().err
    assert tool.main([]) == 0 and tool.main(["--check"]) == 0  # rewritten, it passes


def test_the_page_holds_every_block_and_its_defaults():
    from patch2loc.registry import REGISTRY, implementation

    text = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    for method in (m for m in REGISTRY if m.config and not m.variant_of):
        assert f"## `{method.config}:`" in text
        assert f"`{implementation(method.name).Settings.__name__}`" in text
    assert "| `steps` | `15000` |" in text and "| `steps` | `13200` |" in text  # Patch2Loc's, cDDPM's
    assert "](settings.md)" in (REPO / "docs" / "index.md").read_text(encoding="utf-8")

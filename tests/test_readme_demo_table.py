"""The README's demo table is written from a run's table1.csv (docs/tools/readme_demo_table.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

TOOL = Path(__file__).resolve().parents[1] / "docs" / "tools" / "readme_demo_table.py"
COLUMNS = ["method", "source", "region"] + [f"{d} {m}" for d in ("BraTS21", "MSLUB", "ATLAS_v2", "WMH")
                                            for m in ("Dice", "AUPRC")]


def test_the_block_between_the_markers_is_replaced_and_nothing_else(tmp_path):
    table = tmp_path / "table1.csv"
    rows = [["Thresh", "published", ""] + ["1.00"] * 8,
            ["Thresh", "this run", "brain"] + [f"{i}.50" for i in range(8)],
            ["Patch2Loc", "this run", "brain"] + [f"{i}.25 ± 0.10" for i in range(8)]]
    table.write_text("\n".join(",".join(r) for r in [COLUMNS, *rows]) + "\n")
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- demo-table:start -->\nold numbers\n<!-- demo-table:end -->\noutro\n")
    for _ in range(2):  # a second run gives the same file
        res = subprocess.run([sys.executable, str(TOOL), str(table), str(readme)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    text = readme.read_text()
    assert text.startswith("intro\n<!-- demo-table:start -->\n| | BraTS21 |") and text.endswith("<!-- demo-table:end -->\noutro\n")
    assert "old numbers" not in text and "1.00" not in text  # published rows are not ours
    assert "| Thresh | 0.50 / 1.50 | 2.50 / 3.50 |" in text
    assert "| Patch2Loc | 0.25 ± 0.10 / 1.25 ± 0.10 |" in text

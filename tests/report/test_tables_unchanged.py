"""tools/tables_unchanged.py: every row of an earlier run's tables must be in the later run's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from tests.helpers.benchmarks import benchmark_module


def _tool():
    return benchmark_module("tables_unchanged")


def _run(folder: Path, rows: list[dict]) -> Path:
    (folder / "tables").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(folder / "tables" / "table1.csv", index=False)
    pd.DataFrame([{"stage": "train", "hours": 1.0}]).to_csv(folder / "tables" / "compute.csv", index=False)
    return folder


def test_added_rows_and_columns_pass_and_a_changed_cell_fails(tmp_path, capsys):
    tool = _tool()
    paper = [{"method": "Patch2Loc", "BraTS21 AUPRC": "52.75 [38.89, 64.12]"}]
    before = _run(tmp_path / "a", paper)
    grown = [{**paper[0], "BraTS21 [T1T2] AUPRC": "56.35"}, {"method": "Patch2Loc [T1T2]", "BraTS21 AUPRC": "56.35"}]
    assert tool.main([str(before), str(_run(tmp_path / "b", grown))]) == 0
    out = capsys.readouterr().out
    assert "SAME  table1.csv: 1 of 1 rows unchanged; 1 rows and 1 columns added" in out and "SKIP  compute.csv" in out
    moved = [{"method": "Patch2Loc", "BraTS21 AUPRC": "52.76 [38.89, 64.12]"}]  # one digit
    assert tool.main([str(before), str(_run(tmp_path / "c", moved))]) == 1
    assert "DIFF  table1.csv: 0 of 1 rows unchanged" in capsys.readouterr().out
    assert tool.main([str(tmp_path / "none"), str(before)]) == 2

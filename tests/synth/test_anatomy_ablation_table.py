"""studies/anatomy_ablation.py: the arms' table is read from the runs' own
files, each arm's AUPRC is divided by the baseline arm's, and a folder that is not a run is refused."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from tests.helpers.benchmarks import benchmark_module

ablation = benchmark_module("anatomy_ablation")


def _run(tmp_path, name, anatomies, variation, p2l_brats, val_error):
    run = tmp_path / name
    (run / "tables").mkdir(parents=True)
    (run / "config.resolved.yaml").write_text(
        yaml.safe_dump({"demo": {"anatomies": anatomies, "variation": variation}})
    )
    cells = {f"{s} {k}": "" for s in ablation.SETS for k in ("Dice", "AUPRC")}
    rows = [
        {"method": "Patch2Loc", "source": "this harness", "region": "brain", **cells, "BraTS21 AUPRC": p2l_brats},
        {"method": "Patch2Loc", "source": "published", "region": "", **cells, "BraTS21 AUPRC": "55.40 ± 1.30"},
    ]
    pd.DataFrame(rows).to_csv(run / "tables" / "table1.csv", index=False)
    (run / "models" / "T2" / "fold0").mkdir(parents=True)
    pd.DataFrame({"step": [900], "val_error": [val_error], "centre_error": [30.0]}).to_csv(
        run / "models" / "T2" / "fold0" / "loss.csv", index=False
    )
    return run


def test_the_table_divides_each_arm_by_the_first(tmp_path, capsys):
    one = _run(tmp_path, "abl_one", ["mni152"], "none", "40.00 [30.00, 50.00]", 3.0)
    varied = _run(tmp_path, "abl_several_varied", ["mni152", "mrhead"], "calibrated", "30.00 [20.00, 40.00]", 6.0)
    assert ablation.main([str(one), str(varied)]) == 0
    out = capsys.readouterr().out
    assert "| Patch2Loc | abl_several_varied | mni152, mrhead | calibrated | 30.00 [20.00, 40.00] |" in out
    assert "| Patch2Loc | 0.75 / - / - / - |" in out  # 30 / 40 on BraTS21; the empty sets stay empty
    assert "| abl_one | 0.100 |" in out and "| abl_several_varied | 0.200 |" in out
    assert "55.40" not in out  # the published row is not an arm's number


def test_a_folder_that_is_not_a_run_is_refused(tmp_path, capsys):
    one = _run(tmp_path, "abl_one", ["mni152"], "none", "40.00 [30.00, 50.00]", 3.0)
    (tmp_path / "empty").mkdir()
    out = tmp_path / "table.md"
    assert ablation.main([str(one), str(tmp_path / "empty"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "empty: no config.resolved.yaml" in err
    assert not out.exists()


def test_an_existing_out_file_is_not_overwritten(tmp_path, capsys):
    one = _run(tmp_path, "abl_one", ["mni152"], "none", "40.00 [30.00, 50.00]", 3.0)
    out = tmp_path / "table.md"
    out.write_text("mine")
    assert ablation.main([str(one), "--out", str(out)]) == 2
    assert out.read_text() == "mine"


@pytest.mark.parametrize("cell, mean", [("41.47 [23.89, 59.06]", 41.47), ("", None), ("-", None)])
def test_mean_of_a_cell(cell, mean):
    assert ablation.mean_of(cell) == mean

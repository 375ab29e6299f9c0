"""Compute time per stage and method from Snakemake benchmark files."""

from __future__ import annotations

import pytest

from patch2loc.evaluation.tables.compute import compute_per_stage
from patch2loc.errors import InputError

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(path, seconds):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:00\t1\t1\t1\t1\t0\t0\t0\t0\n")
    return path


def test_gpu_hours_count_gpu_methods_but_not_thresh(tmp_path):
    files = [
        _bench(tmp_path / "train_model" / "Patch2Loc_T1_fold0.tsv", 3600),
        _bench(tmp_path / "train_model" / "Patch2Loc_T2_fold0.tsv", 1800),
        _bench(tmp_path / "train_dae" / "DAE_T1_fold0.tsv", 900),
        _bench(tmp_path / "score_lesions" / "Patch2Loc_T1_fold0_WMH_0.tsv", 360),
        _bench(tmp_path / "score_lesions" / "DAE_T1_fold0_WMH_0.tsv", 36),
        _bench(tmp_path / "score_lesions" / "Thresh_T1_all_WMH_0.tsv", 720),
        _bench(tmp_path / "table2" / "x.tsv", 36),
    ]
    table = compute_per_stage(files, ["Patch2Loc", "DAE"]).set_index(["stage", "method"])
    assert table.loc[("train_model", "Patch2Loc"), "jobs"] == 2
    assert table.loc[("train_model", "Patch2Loc"), "gpu_hours"] == pytest.approx(1.5)
    assert table.loc[("train_dae", "DAE"), "gpu_hours"] == pytest.approx(0.25)
    assert table.loc[("score_lesions", "Patch2Loc"), "hours"] == pytest.approx(0.1)
    assert table.loc[("score_lesions", "DAE"), "gpu_hours"] == pytest.approx(0.01)
    assert table.loc[("score_lesions", "Thresh"), "hours"] == pytest.approx(0.2)
    assert table.loc[("score_lesions", "Thresh"), "gpu_hours"] == 0  # the Thresh job holds no GPU
    assert table.loc[("table2", "x"), "gpu_hours"] == 0
    assert table.loc[("total", ""), "gpu_hours"] == pytest.approx(1.86)
    assert table.loc[("total", ""), "jobs"] == 7


def test_a_broken_benchmark_file_is_named(tmp_path):
    bad = tmp_path / "train_model" / "Patch2Loc_T1_fold0.tsv"
    bad.parent.mkdir()
    bad.write_text("not a benchmark\n")
    with pytest.raises(InputError, match="Patch2Loc_T1_fold0.tsv"):
        compute_per_stage([bad], ["Patch2Loc"])

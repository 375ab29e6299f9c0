"""Table 2 computed one patch file at a time (as rule table2 does) equals the all-in-memory one."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.testing import assert_frame_equal

from patch2loc.evaluation.patches.statistics import (
    TABLE2_COLUMNS,
    patch_statistics,
    spearman_per_fold,
    spearman_table,
    summarise_spearman,
)
from patch2loc.evaluation.tables.table2 import table2
from patch2loc.evaluation.tables.aggregate import read_csvs


def _patches(dataset: str, modality: str, fold: int, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frac = rng.choice([0.0, 0.05, 0.3, 0.5, 0.7, 0.95, 1.0], n)
    return pd.DataFrame(
        {
            "dataset": dataset,
            "modality": modality,
            "fold": fold,
            "subject": "s",
            "lesion_fraction": frac,
            "log_error": frac + rng.normal(0, 0.3, n),
            "log_variance": rng.normal(0, 1, n),
            "score": 2 * frac + rng.normal(0, 0.5, n),
            "mu_x": rng.random(n),
        }
    )


def test_per_file_spearman_summary_equals_the_pooled_one(tmp_path):
    files = []
    for k, (d, m, f) in enumerate([("MSLUB", "T2", 0), ("MSLUB", "T2", 1), ("WMH", "T1", 0), ("WMH", "T1", 1)]):
        path = tmp_path / f"p{k}.csv.gz"
        _patches(d, m, f, 400, k).to_csv(path, index=False)
        files.append(path)
    pooled = read_csvs(files, required=("dataset", "fold", "lesion_fraction"))
    columns = ("dataset", "modality", "fold", "lesion_fraction", "log_error", "log_variance", "score")
    per_file = pd.concat(
        [spearman_per_fold(read_csvs([p], required=("dataset",), usecols=columns)) for p in files], ignore_index=True
    )
    assert "mu_x" not in read_csvs([files[0]], required=("dataset",), usecols=columns).columns
    assert_frame_equal(summarise_spearman(per_file), spearman_table(pooled))
    assert_frame_equal(table2(summarise_spearman(per_file)), table2(pooled))


def test_a_second_model_input_of_a_set_gets_its_own_column_and_the_sets_column_keeps_the_paper_input():
    """Table 2: BraTS21 scored by its own T2 model and by a T1T2 stack: "BraTS21" holds the T2 model's
    correlation as without the stack, "BraTS21 [T1T2]" the stack's; ATLAS_v2 by T1 stays "ATLAS_v2"."""
    rows = [
        {
            "method": "P",
            "dataset": d,
            "modality": m,
            "metric": "score",
            "rho_mean": r,
            "rho_std": np.nan,
            "n_patches": 9,
        }
        for d, m, r in (("BraTS21", "T2", 0.5), ("BraTS21", "T1T2", 0.7), ("ATLAS_v2", "T1", 0.2))
    ]
    table = table2(pd.DataFrame(rows)).set_index("metric")
    assert table.loc["Score", "BraTS21"] == "50.00" and table.loc["Score", "BraTS21 [T1T2]"] == "70.00"
    assert table.loc["Score", "ATLAS_v2"] == "20.00"
    alone = table2(pd.DataFrame([r for r in rows if r["modality"] != "T1T2"])).set_index("metric")
    assert alone.loc["Score", "BraTS21"] == table.loc["Score", "BraTS21"]


def test_the_columns_rule_table2_reads_keep_the_papers_grid_of_an_overlapping_table(tmp_path):
    """A patch file of overlapping patches, read as rule table2 reads it (TABLE2_COLUMNS), gives the
    Table 2 rows of the non-overlapping patches alone."""
    rng = np.random.default_rng(5)
    shape = (24, 20, 3)
    maps = [rng.normal(size=shape).astype(np.float32) for _ in range(3)]
    seg, brain = rng.random(shape) < 0.4, np.ones(shape, bool)
    meta = {"method": "Patch2Loc", "dataset": "WMH", "modality": "T1", "fold": 0, "subject": "s"}
    for stride, name in ((None, "plain"), (2, "fine")):
        patch_statistics(*maps, seg, brain, 4, meta=meta, stride=stride).to_csv(
            tmp_path / f"{name}.csv.gz", index=False
        )
    read = {
        n: read_csvs([tmp_path / f"{n}.csv.gz"], required=("dataset",), usecols=TABLE2_COLUMNS)
        for n in ("plain", "fine")
    }
    assert "paper_grid" in read["fine"].columns and len(read["fine"]) > len(read["plain"])
    assert_frame_equal(spearman_per_fold(read["fine"]), spearman_per_fold(read["plain"]))

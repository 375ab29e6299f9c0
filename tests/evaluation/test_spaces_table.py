"""Native against atlas space side by side (evaluation/tables/space_table.py, tables/table1_spaces.*)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patch2loc.evaluation.tables.space_table import COLUMNS, space_table
from patch2loc.evaluation.tables.uncertainty import Bootstrap


def _metrics(atlas: bool):
    rows = []
    for i, (auprc, atlas_auprc) in enumerate([(0.5, 0.4), (0.6, 0.5), (0.7, 0.6), (0.2, 0.2)]):
        row = {"method": "A", "modality": "T2", "fold": 0, "dataset": "BraTS21", "subject": f"s{i}"}
        row |= {"auprc": auprc, "best_dice": 0.5, "dice_unsup": 0.3}
        if atlas:
            row |= {"atlas_auprc": atlas_auprc, "atlas_best_dice": 0.5, "atlas_dice_unsup": np.nan if i == 0 else 0.3}
        rows.append(row)
    return pd.DataFrame(rows)


def test_native_and_atlas_side_by_side_with_the_paired_difference():
    table = space_table(_metrics(atlas=True), Bootstrap(resamples=200, seed=0))
    assert tuple(table.columns) == COLUMNS
    table = table.set_index("metric")
    auprc = table.loc["AUPRC (%)"]
    assert auprc["native"].startswith("50.00 [") and auprc["atlas"].startswith("42.50 [")
    assert auprc["native - atlas"].startswith("7.50 [") and auprc["volumes"] == 4  # 0.1, 0.1, 0.1, 0
    # a volume without an atlas value leaves that metric's pair, and is counted out
    assert table.loc["Dice at the unsupervised threshold (%)", "volumes"] == 3
    assert table.loc["oracle Dice (%)", "native - atlas"] == "0.00 [0.00, 0.00]"


def test_an_atlas_only_run_gives_an_empty_table():
    assert space_table(_metrics(atlas=False), Bootstrap()).empty


def test_another_model_input_gets_rows_of_its_own_and_leaves_the_papers_rows_as_they_were():
    """A T1 model scoring BraTS21 (a set is scored by every input whose contrasts it has) is never
    pooled with the set's own T2 rows: those keep their values and intervals; the T1 rows follow."""
    boot = Bootstrap(resamples=200, seed=0)
    paper = space_table(_metrics(atlas=True), boot)
    t1 = _metrics(atlas=True).assign(modality="T1", auprc=0.9)
    both = space_table(pd.concat([_metrics(atlas=True), t1], ignore_index=True), boot)
    pd.testing.assert_frame_equal(both.iloc[: len(paper)].reset_index(drop=True), paper)
    extra = both.iloc[len(paper) :]
    assert set(extra["modality"]) == {"T1"} and extra["native"].iloc[0].startswith("90.00 [")
    assert (extra["volumes"] == paper["volumes"].to_numpy()).all()  # 4 volumes each, not 8 pooled

"""Table 3, each set's own challenge (evaluation/tables/challenge_table.py): each lesion set shows its own
challenge's metrics, cells carry intervals, and `volumes` counts the volumes with a value."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patch2loc.evaluation.tables.challenge_table import COLUMNS, challenge_table
from patch2loc.evaluation.tables.uncertainty import Bootstrap


def _rows(dataset, modality, method, values: dict, n=4):
    return [
        {"method": method, "modality": modality, "fold": 0, "dataset": dataset, "subject": f"s{i}", "region": "brain"}
        | {k: v[i] for k, v in values.items()}
        for i in range(n)
    ]


def _metrics():
    wmh = {
        "wmh_dice": [0.1, 0.2, 0.3, 0.4],
        "wmh_hd95_mm": [10.0, np.nan, 30.0, 40.0],  # one volume without a lesion: undefined there
        "wmh_avd_pct": [1.0, 2.0, 3.0, 4.0],
        "wmh_recall": [1.0, 1.0, 0.5, 0.5],
        "wmh_f1": [0.5, 0.5, 0.5, 0.5],
    }
    isles = {"isles_dice": [0.5] * 4, "isles_avd_ml": [1.0, 2.0, 3.0, 4.0], "isles_f1": [0.2] * 4}
    rows = _rows("WMH", "T1", "A", wmh) + _rows("ATLAS_v2", "T1", "A", isles) + _rows("IXI_like", "T1", "A", {})
    return pd.DataFrame(rows)


def test_each_set_shows_its_own_challenges_metrics_with_counts():
    challenge_of = {"WMH": "wmh", "ATLAS_v2": "isles22"}
    table = challenge_table(_metrics(), challenge_of, Bootstrap.from_config({"resamples": 200, "seed": 0}))
    assert tuple(table.columns) == COLUMNS
    assert list(table["dataset"].unique()) == ["ATLAS_v2", "WMH"]  # the table's set order; no challenge: left out
    wmh = table[table["dataset"] == "WMH"].set_index("metric")
    assert list(wmh.index) == [
        "Dice (%)",
        "HD95, in-plane boundary (mm)",
        "AVD (%)",
        "lesion recall (%)",
        "lesion F1 (%)",
    ]
    assert wmh.loc["HD95, in-plane boundary (mm)", "volumes"] == 3  # the undefined one is counted out
    assert wmh.loc["Dice (%)", "volumes"] == 4
    # mean of 0.1..0.4 = 25 %, with a bootstrap interval around it
    assert wmh.loc["Dice (%)", "value"].startswith("25.00 [")
    assert wmh.loc["HD95, in-plane boundary (mm)", "value"].startswith("26.7 [")  # (10 + 30 + 40) / 3
    isles = table[table["dataset"] == "ATLAS_v2"]
    # count difference not in the metrics: not shown; every ISLES metric shown is ISLES'
    assert set(isles["metric"]) == {
        "Dice (%)",
        "absolute volume difference (mL)",
        "lesion F1, TP / (TP + (FP + FN) / 2) (%)",
    }
    assert set(isles["challenge"]) == {"ISLES'22"}


def test_without_a_bootstrap_a_cell_is_the_mean_and_the_folds_std():
    table = challenge_table(_metrics(), {"WMH": "wmh"})
    assert table.set_index("metric").loc["Dice (%)", "value"] == "25.00"  # one fold: no std, no interval


def test_brats_shows_each_tumour_region():
    values = {
        f"brats_{region}_{metric}": [value] * 4
        for region, value in (("wt", 0.6), ("tc", 0.4), ("et", 0.2))
        for metric in ("lesion_dice", "dice")
    } | {f"brats_{region}_lesion_hd95_mm": [100.0] * 4 for region in ("wt", "tc", "et")}
    table = challenge_table(pd.DataFrame(_rows("BraTS21", "T2", "A", values)), {"BraTS21": "brats23"})
    shown = table.set_index("metric")["value"]
    assert list(shown.index) == [
        f"{name}: {metric}"
        for name in ("whole tumour", "tumour core", "enhancing tumour")
        for metric in (
            "lesion-wise Dice (%)",
            "lesion-wise HD95 (mm; 374 per missed or spurious lesion)",
            "whole-mask Dice (%)",
        )
    ]
    assert shown["whole tumour: lesion-wise Dice (%)"] == "60.00"
    assert shown["enhancing tumour: whole-mask Dice (%)"] == "20.00"


def test_the_region_names_are_the_metrics_regions():
    from patch2loc.evaluation.tables.challenge_table import BRATS_REGIONS
    from patch2loc.evaluation.challenges import brats23

    assert list(BRATS_REGIONS) == list(brats23.REGIONS)

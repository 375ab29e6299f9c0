"""Table 3, recall by lesion size and AUPRC by lesion load (lesionwise.tables), and the figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patch2loc.evaluation.lesionwise import tables as T
from patch2loc.evaluation.lesionwise.rule import VOLUME_COLUMNS

META = {"modality": "T2", "dataset": "MSLUB", "region": "brain"}


def _metrics() -> pd.DataFrame:
    """Two methods; Patch2Loc with folds 0 and 1, Thresh without folds; three volumes."""
    rows = []
    for method, folds in (("Patch2Loc", (0, 1)), ("Thresh", (np.nan,))):
        for fold in folds:
            for i, subject in enumerate(("a", "b", "c")):
                row = dict.fromkeys(VOLUME_COLUMNS, 1.0)
                row.update(
                    META,
                    method=method,
                    fold=fold,
                    subject=subject,
                    auprc=0.1 * (i + 1),
                    dice_unsup=0.2,
                    hd95_mm=10.0 * (i + 1) + (fold == 1),
                    lesion_recall=[1.0, 0.5, 0.0][i],
                    lesion_f1=0.5,
                    fp_components=[2, 4, 6][i],
                    avd_pct=50.0,
                    lesion_ml=[3.0, 0.5, 9.0][i],
                    lesions=2,
                )
                rows.append(row)
    return pd.DataFrame(rows)


def test_table3_means_over_volumes_then_folds():
    table = T.table3(_metrics()).set_index("method")
    assert list(table.index) == ["Patch2Loc", "Thresh"]
    # HD95: fold 0 (10 + 20 + 30) / 3 = 20, fold 1: 21 -> 20.5 ± 0.7 mm
    assert table.at["Patch2Loc", "HD95 (mm)"] == "20.5 ± 0.7"
    assert table.at["Patch2Loc", "lesion recall (%)"] == "50.0 ± 0.0"
    assert table.at["Thresh", "FP components / volume"] == "4.0"  # one 'fold': no std
    assert table.at["Patch2Loc", "Dice (%)"] == "20.00 ± 0.00" and table.at["Patch2Loc", "volumes"] == 6


def test_recall_by_size_pools_lesions_per_fold():
    edges = (0.1, 1.0)
    lesions = pd.DataFrame(
        [
            # fold 0: small 1 of 2 found, middle 1 of 1, large 0 of 1; fold 1: small 2 of 2
            {"method": "Patch2Loc", "fold": 0, "volume_ml": v, "found": f}
            for v, f in ((0.05, True), (0.02, False), (0.5, True), (3.0, False))
        ]
        + [{"method": "Patch2Loc", "fold": 1, "volume_ml": v, "found": True} for v in (0.05, 0.02)]
    ).assign(modality="T2", dataset="WMH", subject="s", lesion=1, voxels=1)
    per_fold = T.recall_by_size_per_fold(lesions, edges)
    fold0 = per_fold[per_fold["fold"] == "0"].set_index("size_bin")
    assert fold0["lesions"].tolist() == [2, 1, 1] and fold0["recall"].tolist() == [0.5, 1.0, 0.0]
    table = T.recall_by_size(per_fold).set_index("method")
    assert list(table.columns[-3:]) == ["<0.1 mL", "0.1-1 mL", ">=1 mL"]
    assert table.at["Patch2Loc", "<0.1 mL"] == "75.0 ± 35.4 (2)"  # 50 % and 100 %
    assert table.at["Patch2Loc", "0.1-1 mL"] == "100.0 (1)"  # fold 1 has no such lesion: one fold counts


def test_auprc_by_lesion_load_tertiles():
    table = T.auprc_by_load(_metrics())
    assert table["lesion load"].tolist() == ["low", "middle", "high"]
    assert table["range (mL)"].tolist() == ["0.5-0.5", "3-3", "9-9"]  # subjects b, a, c
    assert table["Patch2Loc"].tolist() == ["20.00 ± 0.00", "10.00 ± 0.00", "30.00 ± 0.00"]
    multi = pd.concat([_metrics(), _metrics().query("method == 'Patch2Loc'").assign(modality="T1T2")])
    both = T.auprc_by_load(multi)  # a second model input on the set: a column of its own
    assert both["Patch2Loc"].tolist() == table["Patch2Loc"].tolist() and "Patch2Loc [T1T2]" in both
    assert T.load_tertiles(
        pd.DataFrame({"dataset": ["D"] * 7, "subject": list("abcdefg"), "lesion_ml": [7, 1, 6, 2, 5, 3, 4]})
    )["tertile"].tolist() == ["high", "low", "high", "low", "middle", "low", "middle"]  # 1-3 low, 4-5 middle, 6-7 high


def test_recall_size_figure_draws_one_line_per_method(tmp_path):
    from patch2loc.evaluation.lesionwise.figures import recall_size_figure

    lesions = pd.DataFrame(
        [
            {
                "method": m,
                "fold": 0,
                "volume_ml": v,
                "found": f,
                "modality": "T1",
                "dataset": "WMH",
                "subject": "s",
                "lesion": 1,
                "voxels": 1,
            }
            for m in ("Patch2Loc", "Thresh")
            for v, f in ((0.005, m == "Thresh"), (2.0, True))
        ]
    )
    out = tmp_path / "recall_size_WMH.png"
    recall_size_figure(T.recall_by_size_per_fold(lesions, (0.01, 0.1, 1.0, 10.0)), "WMH", out)
    assert out.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(Exception, match="no lesions of ATLAS_v2"):
        recall_size_figure(T.recall_by_size_per_fold(lesions, (0.01,)), "ATLAS_v2", out)

"""Table aggregation on made-up per-volume rows with answers computed by hand."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patch2loc.errors import InputError
from patch2loc.evaluation.report.captions import PUBLISHED_NOTE
from patch2loc.evaluation.tables.aggregate import (
    aggregate_folds,
    format_mean_std,
    read_csvs,
)
from patch2loc.evaluation.tables.table1 import table1, table1_supplementary
from patch2loc.evaluation.tables.table2 import table2
from patch2loc.evaluation.tables.files import write_table

PUBLISHED = Path(__file__).resolve().parents[2] / "config" / "published"


def _row(method, fold, dataset, dice, auprc, region="brain", modality="T2", subject="s"):
    return {
        "method": method,
        "modality": modality,
        "fold": fold,
        "dataset": dataset,
        "subject": subject,
        "region": region,
        "auprc": auprc,
        "auroc": 0.9,
        "best_dice": dice,
        "best_threshold": 3.0,
        "dice_unsup": dice / 2,
        "unsup_threshold": 5.0 + (fold if fold == fold else 0),
        "lesion_voxels": 100,
    }


@pytest.fixture
def metrics():
    rows = [
        # Patch2Loc BraTS21: fold means of dice 0.6, 0.4, 0.8 -> 60.00 +- 20.00 (ddof=1).
        # (The pooled mean over the 6 volumes would be 0.6667: the test tells the two apart.)
        _row("Patch2Loc", 0, "BraTS21", 0.5, 0.3),
        _row("Patch2Loc", 0, "BraTS21", 0.7, 0.5),
        _row("Patch2Loc", 1, "BraTS21", 0.4, 0.2),
        _row("Patch2Loc", 2, "BraTS21", 0.8, 0.6),
        _row("Patch2Loc", 2, "BraTS21", 0.8, 0.6),
        _row("Patch2Loc", 2, "BraTS21", 0.8, np.nan),  # a NaN AUPRC is skipped, not counted as 0
        # Thresh has no folds: one group, empty std.
        _row("Thresh", np.nan, "BraTS21", 0.3, 0.2),
        _row("Thresh", np.nan, "BraTS21", 0.2, 0.1),
        _row("Thresh", np.nan, "WMH", 0.1, 0.05, modality="T1"),
    ]
    return pd.DataFrame(rows)


def test_aggregate_mean_over_volumes_then_over_folds(metrics):
    agg = aggregate_folds(metrics, ["best_dice", "auprc"]).set_index(["method", "dataset", "metric"])
    dice = agg.loc[("Patch2Loc", "BraTS21", "best_dice")]
    assert dice["mean"] == pytest.approx(0.6) and dice["std"] == pytest.approx(0.2)
    assert dice["n_folds"] == 3 and dice["n_volumes"] == 6
    auprc = agg.loc[("Patch2Loc", "BraTS21", "auprc")]
    assert auprc["mean"] == pytest.approx((0.4 + 0.2 + 0.6) / 3) and auprc["n_volumes"] == 5
    thresh = agg.loc[("Thresh", "BraTS21", "best_dice")]
    assert thresh["mean"] == pytest.approx(0.25) and np.isnan(thresh["std"]) and thresh["n_folds"] == 1
    pop = aggregate_folds(metrics, ["best_dice"], ddof=0).set_index(["method", "dataset"])
    assert pop.loc[("Patch2Loc", "BraTS21"), "std"] == pytest.approx(np.sqrt(0.08 / 3))


def test_format_mean_std():
    assert format_mean_std(0.595, 0.0145) == "59.50 ± 1.45"
    assert format_mean_std(0.3026, np.nan) == "30.26"
    assert format_mean_std(np.nan, 0.1) == ""
    assert format_mean_std(37, np.nan, scale=1, decimals=0) == "37"


def test_table1_harness_rows_above_the_published(metrics):
    rows = metrics.assign(method="DAE")[metrics["method"] == "Patch2Loc"]
    t = table1(pd.concat([metrics, rows]), PUBLISHED / "paper_table1.csv")
    assert list(t.columns[:3]) == ["method", "source", "region"]
    assert list(t.columns[3:7]) == ["BraTS21 Dice", "BraTS21 AUPRC", "MSLUB Dice", "MSLUB AUPRC"]
    assert len(t) == 3 + 12
    # Every method this harness ran first, in the registry's order, then the published rows.
    assert t["source"].tolist() == ["this harness"] * 3 + ["published"] * 12
    assert t["method"].tolist()[:3] == ["Patch2Loc", "DAE", "Thresh"]
    ours = t[(t["source"] == "this harness") & (t["method"] == "Patch2Loc")].iloc[0]
    assert ours["BraTS21 Dice"] == "60.00 ± 20.00" and ours["region"] == "brain"
    assert ours["WMH Dice"] == ""  # not evaluated in this run
    assert t[(t["source"] == "this harness") & (t["method"] == "DAE")].iloc[0]["BraTS21 Dice"] == "60.00 ± 20.00"
    thresh = t[(t["source"] == "this harness") & (t["method"] == "Thresh")].iloc[0]
    assert thresh["BraTS21 Dice"] == "25.00" and thresh["WMH AUPRC"] == "5.00"
    pub = t[(t["source"] == "published") & (t["method"] == "Patch2Loc")].iloc[0]
    assert pub["BraTS21 Dice"] == "59.50 ± 1.45" and pub["WMH AUPRC"] == "10.10 ± 1.70"
    assert t[(t["source"] == "published") & (t["method"] == "DAE")].iloc[0]["BraTS21 AUPRC"] == "49.38 ± 4.18"
    assert t[(t["source"] == "published") & (t["method"] == "Thresh")].iloc[0]["MSLUB Dice"] == "7.65"
    assert "other test subsets" in PUBLISHED_NOTE and "preprocessing" in PUBLISHED_NOTE


def test_table1_without_published_and_two_regions(metrics):
    both = pd.concat([metrics, metrics.assign(region="volume", best_dice=metrics["best_dice"] / 2)])
    t = table1(both)
    p2l = t[t["method"] == "Patch2Loc"].set_index("region")
    assert p2l.loc["brain", "BraTS21 Dice"] == "60.00 ± 20.00"
    assert p2l.loc["volume", "BraTS21 Dice"] == "30.00 ± 10.00"
    assert set(t["source"]) == {"this harness"}


def test_table1_supplementary(metrics):
    s = table1_supplementary(metrics)
    row = s[(s["method"] == "Patch2Loc") & (s["dataset"] == "BraTS21")].iloc[0]
    assert row["AUROC"] == "90.00 ± 0.00" and row["Dice (unsup. thr.)"] == "30.00 ± 10.00"
    assert row["unsup. threshold"] == "6.00 ± 1.00" and row["region"] == "brain"
    assert row["folds"] == 3 and row["volumes"] == 6
    assert s["dataset"].tolist() == ["BraTS21", "BraTS21", "WMH"]


def test_table2_from_spearman_and_published():
    spear = pd.DataFrame(
        {
            "method": ["Patch2Loc"] * 6 + ["DAE"],
            "dataset": ["BraTS21"] * 3 + ["IXI"] * 3 + ["BraTS21"],
            "modality": ["T2"] * 3 + ["T1"] * 3 + ["T2"],
            "metric": ["log_error", "log_variance", "score"] * 2 + ["score"],
            "rho_mean": [0.3, 0.25, 0.41, np.nan, np.nan, np.nan, 0.2],
            "rho_std": [0.01, 0.02, 0.03] + [np.nan] * 3 + [0.05],
            "n_folds": [5] * 7,
            "n_patches": [1000] * 3 + [0] * 3 + [1000],
        }
    )
    t = table2(spear, PUBLISHED / "paper_table2.csv")
    assert list(t.columns) == ["method", "metric", "source", "BraTS21", "MSLUB", "ATLAS_v2", "WMH"]  # IXI dropped
    assert t["source"].tolist() == ["this harness"] * 4 + ["published"] * 3 + ["this harness"]
    assert t["method"].tolist()[:4] == ["Patch2Loc"] * 3 + ["DAE"]
    score = t[(t["metric"] == "Score") & (t["method"] == "Patch2Loc")].set_index("source")
    assert score.loc["published", "BraTS21"] == "40" and score.loc["published", "WMH"] == "13"
    assert score.loc["this harness", "BraTS21"] == "41.00 ± 3.00" and score.loc["this harness", "MSLUB"] == ""
    assert t[t["method"] == "DAE"].iloc[0]["BraTS21"] == "20.00 ± 5.00"
    assert t.iloc[-1]["metric"] == "mixed patches (n)" and t.iloc[-1]["BraTS21"] == "1000"


def test_table2_from_patches_computes_spearman_per_method():
    frac = np.linspace(0.1, 0.9, 9)
    patches = pd.DataFrame(
        {
            "method": "Patch2Loc",
            "dataset": "WMH",
            "modality": "T1",
            "fold": 0,
            "lesion_fraction": frac,
            "log_error": frac,
            "log_variance": -frac,
            "score": frac**2,
        }
    )
    # The DAE has a score only: no log-error or log-variance rows for it.
    dae = patches.assign(method="DAE", log_error=np.nan, log_variance=np.nan, score=-frac)
    t = table2(pd.concat([patches, dae])).set_index(["method", "metric"])
    assert t.loc[("Patch2Loc", "Log-error"), "WMH"] == "100.00"
    assert t.loc[("Patch2Loc", "Log-variance"), "WMH"] == "-100.00"
    assert t.loc[("DAE", "Score"), "WMH"] == "-100.00"
    assert ("DAE", "Log-error") not in t.index


def test_write_table_three_formats(tmp_path, metrics):
    t = table1(metrics, PUBLISHED / "paper_table1.csv")
    paths = write_table(t, tmp_path / "tables" / "table1", caption="Table 1: 100% of it")
    assert [p.name for p in paths] == ["table1.csv", "table1.md", "table1.tex"]
    back = pd.read_csv(paths[0], keep_default_na=False)
    assert back.equals(t.astype(str)) or (back.astype(str).values == t.astype(str).values).all()
    md = paths[1].read_text(encoding="utf-8").splitlines()
    assert md[2].startswith("| method | source | region | BraTS21 Dice |")
    assert set(md[3]) <= set("|-") and len(md) == 4 + len(t)
    tex = paths[2].read_text(encoding="utf-8")
    assert r"ATLAS\_v2 Dice" in tex and r"59.50 $\pm$ 1.45" in tex and r"100\% of it" in tex
    assert tex.count(r"\\") == len(t) + 1
    assert not list(tmp_path.glob("tables/.*"))  # no temporary files left behind


def test_read_csvs_names_the_bad_file(tmp_path, metrics):
    good = tmp_path / "good.csv"
    metrics.to_csv(good, index=False)
    bad = tmp_path / "bad.csv"
    metrics.drop(columns=["auprc"]).to_csv(bad, index=False)
    assert len(read_csvs([good, good])) == 2 * len(metrics)
    with pytest.raises(InputError, match="bad.csv.*auprc"):
        read_csvs([good, bad])
    with pytest.raises(InputError, match="missing.csv"):
        read_csvs([tmp_path / "missing.csv"])


def test_a_second_model_input_on_a_set_gets_rows_of_its_own(metrics):
    """A set scored by its own contrast's model and by a two-contrast one (docs/multimodal.md): Table 1
    keeps the single-contrast row as it was and adds "method [T1T2]"; the supplement has one row per input."""
    from patch2loc.evaluation.tables.table1 import table1_supplementary

    multi = [
        _row("Patch2Loc", 0, "BraTS21", 0.9, 0.7, modality="T1T2"),
        _row("Patch2Loc", 1, "BraTS21", 0.7, 0.5, modality="T1T2"),
    ]
    both = pd.concat([metrics, pd.DataFrame(multi)], ignore_index=True)
    single, table = table1(metrics), table1(both)
    assert table["method"].tolist()[:3] == ["Patch2Loc", "Patch2Loc [T1T2]", "Thresh"]
    pd.testing.assert_series_equal(table.iloc[0], single.iloc[0])  # the single-contrast row, unchanged
    assert table.iloc[1]["BraTS21 Dice"].startswith("80.00")
    sup = table1_supplementary(both)
    assert sorted(sup.loc[sup["method"] == "Patch2Loc", "modality"]) == ["T1T2", "T2"]

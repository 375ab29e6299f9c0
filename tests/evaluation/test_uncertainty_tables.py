"""The comparison tables (evaluation/comparisons/paired.py): Table 4's AUROC and AUPRC against
scikit-learn, the paired-tests table against scipy and Holm; the volume-level columns the scoring
jobs write (evaluation/dataset/volume_scores.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

from patch2loc.errors import InputError
from patch2loc.evaluation.comparisons.detection import table4
from patch2loc.evaluation.comparisons.paired import PAIRED_METRICS, paired_tests
from patch2loc.evaluation.tables.uncertainty import Bootstrap, auroc, average_precision, holm
from patch2loc.evaluation.dataset.volume_scores import volume_columns
from patch2loc.registry import DEFAULT_METHOD, REGISTRY

OTHERS = [m.name for m in REGISTRY if m.name != DEFAULT_METHOD][:2]
BOOT = Bootstrap(resamples=300, seed=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auroc_and_average_precision_equal_scikit_learns_with_ties(seed):
    rng = np.random.default_rng(seed)
    neg = np.round(rng.normal(0, 1, 57), 1)  # rounded: many ties, within and across the groups
    pos = np.round(rng.normal(0.8, 1, 23), 1)
    labels = np.r_[np.zeros(len(neg)), np.ones(len(pos))]
    scores = np.r_[neg, pos]
    assert auroc(neg, pos) == pytest.approx(roc_auc_score(labels, scores))
    assert average_precision(neg, pos) == pytest.approx(average_precision_score(labels, scores))


def _volume_rows(method, dataset, folds, subjects, shift, seed):
    rng = np.random.default_rng(seed)
    base = rng.normal(shift, 1.0, len(subjects))
    return [
        {
            "method": method,
            "modality": "T2",
            "fold": fold,
            "dataset": dataset,
            "subject": s,
            "volume_score_p99": base[i] + 0.05 * rng.normal(),
        }
        for fold in folds
        for i, s in enumerate(subjects)
    ]


def test_table4_is_the_fold_mean_of_scikit_learns_auroc_with_an_interval_around_it():
    healthy = pd.DataFrame(
        _volume_rows(DEFAULT_METHOD, "IXI", [0, 1], [f"IXI{i}" for i in range(40)], 0.0, 1)
        + _volume_rows(OTHERS[0], "IXI", [np.nan], [f"IXI{i}" for i in range(40)], 0.0, 2)
    )
    lesions = pd.DataFrame(
        _volume_rows(DEFAULT_METHOD, "MSLUB", [0, 1], [f"p{i}" for i in range(25)], 1.0, 3)
        + _volume_rows(OTHERS[0], "MSLUB", [np.nan], [f"p{i}" for i in range(25)], 0.2, 4)
    )
    out = table4(lesions, healthy, "volume_score_p99", BOOT).set_index("method")
    assert list(out.index) == [DEFAULT_METHOD, OTHERS[0]]
    for method, folds in ((DEFAULT_METHOD, [0, 1]), (OTHERS[0], [np.nan])):
        expected, ap = [], []
        for fold in folds:
            pick = lambda df: df[(df["method"] == method) & ((df["fold"] == fold) | pd.isna(fold))]  # noqa: E731
            neg, pos = pick(healthy)["volume_score_p99"], pick(lesions)["volume_score_p99"]
            labels, scores = np.r_[np.zeros(len(neg)), np.ones(len(pos))], np.r_[neg, pos]
            expected.append(roc_auc_score(labels, scores))
            ap.append(average_precision_score(labels, scores))
        row = out.loc[method]
        close = dict(abs=1e-5)  # the csv's numbers: 5 decimals
        assert row["auroc"] == pytest.approx(np.mean(expected), **close)
        assert row["auprc"] == pytest.approx(np.mean(ap), **close)
        assert row["auroc_low"] <= row["auroc"] <= row["auroc_high"] and row["auroc_high"] - row["auroc_low"] > 0.01
        assert (row["healthy volumes"], row["lesion volumes"]) == (40, 25)
        assert row["AUPRC chance (%)"] == f"{100 * 25 / 65:.2f}"
    assert out.loc[DEFAULT_METHOD, "auroc"] > out.loc[OTHERS[0], "auroc"]


def test_table4_without_the_volume_score_column_names_the_fix():
    healthy = pd.DataFrame(_volume_rows(DEFAULT_METHOD, "IXI", [0], ["a", "b"], 0, 0)).drop(columns="volume_score_p99")
    lesions = pd.DataFrame(_volume_rows(DEFAULT_METHOD, "MSLUB", [0], ["c", "d"], 1, 0))
    with pytest.raises(InputError, match="volume_score_p99.*score_healthy"):
        table4(lesions, healthy, "volume_score_p99", BOOT)


def _lesion_metrics():
    rng = np.random.default_rng(11)
    rows = []
    for dataset, n in (("BraTS21", 30), ("MSLUB", 12)):
        quality = rng.uniform(0.1, 0.7, n)  # a subject's difficulty, shared by the methods
        for method, gain, folds in (
            (DEFAULT_METHOD, 0.1, [0, 1, 2]),
            (OTHERS[0], 0.0, [0, 1, 2]),
            (OTHERS[1], 0.02, [np.nan]),
        ):
            for fold in folds:
                noise = rng.normal(0, 0.03, (3, n))
                for i in range(n):
                    rows.append(
                        {
                            "method": method,
                            "modality": "T2" if dataset == "MSLUB" else "T1",
                            "fold": fold,
                            "dataset": dataset,
                            "subject": f"{dataset}{i}",
                            "region": "brain",
                            **{m: quality[i] + gain + noise[j, i] for j, m in enumerate(PAIRED_METRICS)},
                        }
                    )
    return pd.DataFrame(rows)


def test_paired_tests_are_scipys_wilcoxon_on_fold_means_with_holm_over_the_table():
    metrics = _lesion_metrics()
    out = paired_tests(metrics, DEFAULT_METHOD, BOOT)
    assert len(out) == 2 * len(PAIRED_METRICS) * 2  # lesion sets x metrics x other methods
    assert set(out["method"]) == set(OTHERS) and set(out["reference"]) == {DEFAULT_METHOD}
    assert np.allclose(out["p_holm"], holm(out["p"]).round(5), atol=1e-5)
    row = out[(out["dataset"] == "MSLUB") & (out["method"] == OTHERS[0]) & (out["metric"] == "AUPRC")].iloc[0]
    part = metrics[metrics["dataset"] == "MSLUB"]
    means = part.groupby(["method", "subject"])["auprc"].mean()
    diff = means[DEFAULT_METHOD] - means[OTHERS[0]]
    ref = stats.wilcoxon(diff.to_numpy())
    assert row["p"] == pytest.approx(ref.pvalue, abs=1e-5) and row["W"] == pytest.approx(ref.statistic)
    assert row["median_diff"] == pytest.approx(100 * np.median(diff), abs=1e-3) and row["subjects"] == 12
    assert row["median_diff_low"] < 10 < row["median_diff_high"]  # the simulated gain: 10 points
    assert (out.loc[out["method"] == OTHERS[0], "p_holm"] < 0.05).all()  # a 10-point gain is found


def test_volume_columns_from_a_volume_with_a_known_distribution():
    scores = np.arange(1, 10001, dtype=np.float32)  # 1 ... 10000
    cols = volume_columns(scores, threshold=9901.0, sketch=True)
    assert cols["volume_score_p99"] == pytest.approx(np.quantile(scores, 0.99))
    assert cols["volume_score_p999"] == pytest.approx(np.quantile(scores, 0.999))
    assert cols["volume_score_flagged"] == pytest.approx(0.01)  # 9901 ... 10000
    assert cols["brain_voxels"] == 10000
    assert cols["sketch_q0.9800"] == pytest.approx(np.quantile(scores, 0.98)) and cols["sketch_q1.0000"] == 10000
    assert not any(k.startswith("sketch_") for k in volume_columns(scores, 9901.0))  # lesion sets: no sketch

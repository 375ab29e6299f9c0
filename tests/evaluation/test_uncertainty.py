"""The intervals and tests of evaluation/tables/uncertainty.py: coverage of the bootstrap interval on
simulated data, the paired test against scipy, Holm against a worked example, and why each subject
enters once (its fold-mean) whatever the number of folds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from patch2loc.errors import InputError
from patch2loc.evaluation.tables.aggregate import aggregate, format_cell
from patch2loc.evaluation.tables.table1 import table1
from patch2loc.evaluation.tables.uncertainty import (
    Bootstrap,
    add_intervals,
    bootstrap_interval,
    format_interval,
    holm,
    paired_test,
    subject_means,
)


@pytest.mark.parametrize("method", ["percentile", "BCa"])
def test_a_95_percent_interval_covers_the_true_mean_in_at_least_90_percent_of_200_sets(method):
    """200 seeded sets of 40 skewed values (gamma, mean 0.3): the interval of the mean must hold
    0.3 in >= 90 % of them (nominal 95 %; the percentile bootstrap runs a little short at n = 40)."""
    boot = Bootstrap(resamples=1000, seed=0, method=method)
    rng = np.random.default_rng(123)
    true_mean, hits = 0.3, 0
    for k in range(200):
        values = rng.gamma(shape=2.0, scale=true_mean / 2.0, size=40)
        low, high = bootstrap_interval(values, boot, "sim", k)
        hits += low <= true_mean <= high
    assert hits / 200 >= 0.90, hits


def test_the_interval_narrows_as_subjects_are_added_and_is_seeded():
    rng = np.random.default_rng(1)
    boot = Bootstrap(resamples=500, seed=7)
    small, large = rng.normal(0.5, 0.1, 20), rng.normal(0.5, 0.1, 500)
    w_small = np.subtract(*bootstrap_interval(small, boot, "a")[::-1])
    w_large = np.subtract(*bootstrap_interval(large, boot, "a")[::-1])
    assert w_large < w_small / 3  # ~ 1 / sqrt(25)
    assert bootstrap_interval(small, boot, "a") == bootstrap_interval(small, boot, "a")  # the same seed, the same cell
    assert bootstrap_interval(small, boot, "a") != bootstrap_interval(small, Bootstrap(500, 8), "a")


def test_too_few_or_constant_values_give_no_spread():
    boot = Bootstrap(resamples=200)
    assert all(np.isnan(bootstrap_interval([0.4], boot, "x")))
    assert all(np.isnan(bootstrap_interval([np.nan, 0.4], boot, "x")))
    assert bootstrap_interval([0.4, 0.4, 0.4], boot, "x") == (0.4, 0.4)


def test_holm_against_a_worked_example():
    # sorted: 0.005 x 4 = 0.02; 0.01 x 3 = 0.03; 0.03 x 2 = 0.06; 0.04 x 1 = 0.04 -> running max 0.06
    p = [0.01, 0.04, 0.03, 0.005]
    assert np.allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    # NaN stays out of the family (m = 2 here); capped at 1
    out = holm([0.6, np.nan, 0.02])
    assert np.isnan(out[1]) and np.allclose(out[[0, 2]], [0.6, 0.04])
    assert np.allclose(holm([0.7, 0.8]), [1.0, 1.0])  # 0.7 x 2 capped at 1; the running maximum keeps 1
    assert holm([]).size == 0


def test_holm_never_rejects_less_than_bonferroni_and_keeps_the_order():
    p = np.random.default_rng(3).uniform(0, 0.2, 12)
    adjusted = holm(p)
    assert np.all(adjusted <= np.minimum(1, p * len(p)) + 1e-15) and np.all(adjusted >= p)
    assert np.all(np.diff(adjusted[np.argsort(p)]) >= 0)


def test_the_paired_test_is_scipys_wilcoxon_and_the_median_difference():
    rng = np.random.default_rng(5)
    a = rng.uniform(0.2, 0.8, 30)
    b = a - rng.normal(0.05, 0.05, 30)
    b[3] = np.nan  # a pair with a missing value is dropped
    out = paired_test(a, b, Bootstrap(resamples=500), "k")
    keep = ~np.isnan(b)
    ref = stats.wilcoxon(a[keep] - b[keep])
    assert out["pairs"] == 29
    assert out["p"] == pytest.approx(ref.pvalue) and out["statistic"] == pytest.approx(ref.statistic)
    assert out["median_diff"] == pytest.approx(np.median(a[keep] - b[keep]))
    assert out["median_diff_low"] <= out["median_diff"] <= out["median_diff_high"]
    same = paired_test(a, a, Bootstrap(resamples=200), "k")
    assert np.isnan(same["p"]) and same["median_diff"] == 0


def _metrics(folds: int, n: int = 30, seed: int = 0) -> pd.DataFrame:
    """Per-volume rows of one method and set; every fold scores the same subjects, fold noise small."""
    rng = np.random.default_rng(seed)
    subject_value = rng.uniform(0.1, 0.9, n)
    return pd.DataFrame(
        [
            {
                "method": "Patch2Loc",
                "dataset": "MSLUB",
                "modality": "T2",
                "region": "brain",
                "fold": k,
                "subject": f"s{i}",
                "auprc": subject_value[i] + 0.01 * rng.normal(),
                "best_dice": subject_value[i] / 2,
            }
            for k in range(folds)
            for i in range(n)
        ]
    )


def test_each_subject_enters_once_however_many_folds_score_it():
    """Rows (fold, volume) are not independent: five folds of the same subjects must not give an
    interval sqrt(5) narrower than one fold (it would, resampling rows)."""
    boot = Bootstrap(resamples=1000, seed=0)
    one, five = _metrics(1), _metrics(5)
    width = {}
    for name, df in (("one", one), ("five", five)):
        agg = add_intervals(aggregate(df, ["auprc"]), df, boot)
        assert agg["n_subjects"].iloc[0] == 30
        width[name] = float(agg["high"].iloc[0] - agg["low"].iloc[0])
    assert width["five"] == pytest.approx(width["one"], rel=0.15)
    rows_width = np.subtract(*bootstrap_interval(five["auprc"], boot, "rows")[::-1])
    assert rows_width < 0.6 * width["five"]  # what resampling rows would wrongly give


def test_subject_means_average_over_folds_and_skip_nan():
    df = pd.DataFrame(
        {"method": "m", "fold": [0, 1, 0, 1], "subject": ["a", "a", "b", "b"], "auprc": [0.2, 0.4, np.nan, np.nan]}
    )
    out = subject_means(df, "auprc", ["method"])
    assert out["subject"].tolist() == ["a"] and out["auprc"].iloc[0] == pytest.approx(0.3)


def test_table1_cells_show_the_mean_and_the_interval():
    df = _metrics(3)
    table = table1(df, boot=Bootstrap(resamples=300))
    cell = table.loc[0, "MSLUB AUPRC"]
    mean = 100 * df.groupby("fold")["auprc"].mean().mean()
    text, rest = cell.split(" [")
    low, high = map(float, rest.rstrip("]").split(", "))
    assert float(text) == pytest.approx(mean, abs=0.006) and low < float(text) < high
    assert "±" in table1(df).loc[0, "MSLUB AUPRC"]  # without boot: mean ± std over folds, as before
    rec = aggregate(df, ["auprc"]).iloc[0]
    assert format_cell(rec).startswith(f"{100 * rec['mean']:.2f} ±")


def test_format_interval():
    assert format_interval(0.595, 0.571, 0.618) == "59.50 [57.10, 61.80]"
    assert format_interval(0.3, np.nan, np.nan) == "30.00"
    assert format_interval(np.nan, 0.1, 0.2) == ""
    assert format_interval(2.5, 2.0, 3.0, scale=1.0, decimals=1) == "2.5 [2.0, 3.0]"


def test_an_unknown_bootstrap_key_is_refused_with_its_name():
    with pytest.raises(InputError, match="evaluate.bootstrap.*'sample'"):
        Bootstrap.from_config({"sample": 10})
    assert Bootstrap.from_config({"resamples": 50, "seed": 3}) == Bootstrap(resamples=50, seed=3)
    assert Bootstrap.from_config(None) == Bootstrap()


def test_table3_and_its_load_strata_show_intervals_given_boot():
    from patch2loc.evaluation.lesionwise.tables import TABLE3, auprc_by_load, table3

    df = _metrics(2, n=12)
    df = df.assign(**{c: df["auprc"] for c in TABLE3}, lesions=2.0, lesion_ml=np.arange(len(df)) % 12 + 1.0)
    boot = Bootstrap(resamples=200)
    row = table3(df, boot=boot).iloc[0]
    assert all(" [" in row[heading] for heading, _, _ in TABLE3.values()), row
    assert "±" in table3(df).iloc[0]["Dice (%)"]
    load = auprc_by_load(df, boot=boot)
    assert len(load) == 3 and all(" [" in cell for cell in load["Patch2Loc"])

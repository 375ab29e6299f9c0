"""The bias table's threshold never sees a volume it evaluates (cross-fitting by subject), its
refit from the volumes' score quantiles is exact to the stated precision, and its permutation test."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from patch2loc.evaluation.comparisons.bias import between_groups, bias_table, crossfit_fpr, halves, permutation_p
from patch2loc.evaluation.tables.uncertainty import Bootstrap
from patch2loc.evaluation.dataset.volume_scores import (
    SKETCH_COLUMNS,
    fraction_above,
    pooled_quantile,
    sketch_error,
    volume_columns,
)
from patch2loc.registry import DEFAULT_METHOD

SITES = ("Guys", "HH", "IOP")


def _scores(seed: int, shift: float = 0.0, n: int = 20000) -> np.ndarray:
    return np.random.default_rng(seed).gamma(2.0, 1.0, n) + shift


def _healthy(n_subjects=12, folds=(0, 1), shifts=None):
    """Healthy rows as score_healthy writes them (volume_columns of simulated in-brain scores)."""
    shifts = shifts or {}
    rows, voxels = [], {}
    for fold in folds:
        for i in range(n_subjects):
            subject = f"IXI{100 + i:03d}-{SITES[i % 3]}-{1000 + i}"
            v = _scores(1000 * fold + i, shifts.get(subject, 0.0), n=15000 + 500 * i)
            voxels[(fold, subject)] = v
            meta = {"method": DEFAULT_METHOD, "modality": "T1", "fold": fold, "dataset": "IXI", "subject": subject}
            rows.append({**meta, **volume_columns(v, threshold=np.inf, sketch=True)})
    return pd.DataFrame(rows), voxels


def test_halves_split_subjects_seeded_and_balanced():
    subjects = [f"s{i}" for i in range(11)]
    split = halves(subjects, seed=0)
    assert sorted(split) == sorted(subjects) and abs(sum(split.values()) - 5.5) <= 0.5
    assert split == halves(list(reversed(subjects)), seed=0)  # the subjects, not their order
    assert split != halves(subjects, seed=1)


def test_each_threshold_is_fitted_on_the_other_half_only():
    healthy, _ = _healthy()
    out = crossfit_fpr(healthy, 0.98, seed=0)
    assert len(out) == len(healthy)
    for (fold, half), part in out.groupby(["fold", "half"]):
        other = out[(out["fold"] == fold) & (out["half"] != half)]
        assert not set(part["subject"]) & set(other["subject"])
        expected = pooled_quantile(other[SKETCH_COLUMNS].to_numpy(), other["brain_voxels"].to_numpy(), 0.98)
        assert part["threshold"].nunique() == 1 and part["threshold"].iloc[0] == pytest.approx(expected)


def test_an_evaluated_volume_cannot_move_its_own_threshold():
    """Make one volume's scores enormous: its own threshold must stay as it was (a threshold fitted on
    every volume, or on its own half, would rise), while the other half's threshold does rise."""
    healthy, _ = _healthy()
    before = crossfit_fpr(healthy, 0.98, seed=0).set_index(["fold", "subject"])
    victim = healthy["subject"].iloc[0]
    poisoned = healthy.copy()
    poisoned.loc[poisoned["subject"] == victim, SKETCH_COLUMNS] += 1000.0
    after = crossfit_fpr(poisoned, 0.98, seed=0).set_index(["fold", "subject"])
    half = before.loc[("0", victim), "half"]
    same_half = before["half"] == half
    assert np.allclose(after.loc[same_half, "threshold"], before.loc[same_half, "threshold"])
    assert (after.loc[~same_half, "threshold"] > before.loc[~same_half, "threshold"] + 1).all()
    assert after.loc[("0", victim), "fpr"] == pytest.approx(1.0)  # judged by a threshold it never saw


def test_the_refit_from_sketches_matches_the_exact_pooled_quantile_to_the_stated_precision():
    healthy, voxels = _healthy()
    fold0 = healthy[healthy["fold"] == 0]
    sketch, counts = fold0[SKETCH_COLUMNS].to_numpy(), fold0["brain_voxels"].to_numpy()
    pooled = np.concatenate([voxels[(0, s)] for s in fold0["subject"]])
    t = pooled_quantile(sketch, counts, 0.98)
    assert np.mean(pooled > t) == pytest.approx(0.02, abs=0.0005)  # pooled level to within the step
    exact = np.array([np.mean(voxels[(0, s)] > t) for s in fold0["subject"]])
    error = sketch_error(sketch, t)
    assert error == pytest.approx(0.0005)
    assert np.all(np.abs(fraction_above(sketch, t) - exact) <= error + 1e-12)


def test_permutation_p_finds_a_site_difference_and_not_a_null_one():
    boot = Bootstrap(resamples=500, seed=0)
    labels = np.array(["A", "B", "C"] * 10)
    rng = np.random.default_rng(0)
    null = rng.normal(0.02, 0.005, 30)
    shifted = null + np.where(labels == "B", 0.01, 0.0)
    assert permutation_p(shifted, labels, boot, "x") < 0.01
    assert permutation_p(null, labels, boot, "x") > 0.05
    assert np.isnan(permutation_p(null, np.array(["A"] * 30), boot, "x"))
    assert between_groups(np.array([1.0, 1.0, 3.0, 3.0]), np.array(["a", "a", "b", "b"])) == pytest.approx(4.0)


def test_bias_table_cells_counts_and_tests():
    # HH subjects' scores shifted up: more of their brain above a threshold fitted on the others
    healthy, _ = _healthy(n_subjects=18, shifts={f"IXI{100 + i:03d}-HH-{1000 + i}": 1.5 for i in range(1, 18, 3)})
    demographics = pd.DataFrame({"ixi_id": range(100, 118), "sex": ["F", "M"] * 9, "age": np.linspace(25, 80, 18)})
    table, error = bias_table(healthy, demographics, [40, 60], quantile=0.98, boot=Bootstrap(resamples=300))
    table = table.set_index(["grouping", "group"])
    name = f"{DEFAULT_METHOD} T1"
    assert list(table.columns) == [name] and error == pytest.approx(0.0005)
    assert table.at[("all", "all"), name].endswith("(18)") and table.at[("site", "HH"), name].endswith("(6)")
    hh, guys = (float(table.at[("site", g), name].split(" ")[0]) for g in ("HH", "Guys"))
    assert hh > 3 * guys
    assert float(table.at[("site", "permutation p"), name]) < 0.05
    assert {"permutation p"} <= {g for k, g in table.index if k == "sex"}


def test_the_scoring_jobs_write_what_table4_and_the_bias_table_read(tmp_path):
    """score_healthy and score_lesions (the workflow's scoring) with a method without a model: their
    rows carry the volume scores and the healthy sketch, and the two tables run on them."""
    from patch2loc.evaluation.comparisons.detection import table4
    from patch2loc.evaluation.dataset.score_dataset import ScoringConfig, score_healthy, score_lesions
    from patch2loc.registry import REGISTRY
    from tests.helpers.scored_scans import saved_scans

    method = next(m.name for m in REGISTRY if not m.trains)
    names = [f"IXI{200 + i}-HH-{i}" for i in range(6)]
    scans = saved_scans(tmp_path, names, seed=2, brighter_from=3)  # the lesion volumes: brighter lesions
    cfg = ScoringConfig(median_size=1, keep_heatmaps=0, patch_size=4)
    meta = {"method": method, "modality": "T2", "fold": "", "dataset": "IXI"}
    threshold, healthy = score_healthy(method, scans[:3], cfg, meta, tmp_path / "h", None)
    lesions, _, _ = score_lesions(method, scans[3:], cfg, {**meta, "dataset": "MSLUB"}, threshold, tmp_path / "l")
    assert set(SKETCH_COLUMNS) <= set(healthy.columns) and not set(SKETCH_COLUMNS) & set(lesions.columns)
    assert (healthy["brain_voxels"] == 12 * 12 * 4).all()
    assert np.allclose(healthy["volume_score_flagged"], (healthy["fpr_unsup"]), atol=1 / 576)  # > vs >=
    out = table4(lesions, healthy, "volume_score_p99", Bootstrap(resamples=100))
    assert out["auroc"].iloc[0] == 1.0  # the brighter lesions lift every lesion volume's 99th percentile
    fitted = crossfit_fpr(healthy, 0.98, seed=0)
    assert fitted["fpr"].between(0, 1).all() and fitted["half"].nunique() == 2


def test_a_single_healthy_subject_gives_empty_cells_not_a_threshold_fitted_on_itself():
    healthy, _ = _healthy(n_subjects=1, folds=(0,))
    fitted = crossfit_fpr(healthy, 0.98, seed=0)
    assert fitted["fpr"].isna().all() and fitted["threshold"].isna().all()
    demographics = pd.DataFrame({"ixi_id": [100], "sex": ["F"], "age": [30.0]})
    table, _ = bias_table(healthy, demographics, [40, 60], quantile=0.98, boot=Bootstrap(resamples=100))
    assert table.drop(columns=["grouping", "group"]).eq("").all().all()


@pytest.mark.parametrize("cell", ["forty", "inf", "[0.5]"])
def test_the_bias_rule_refuses_text_where_its_numbers_belong(tmp_path, cell):
    """rule bias on a healthy metrics.csv whose score quantile reads 'forty': before, the table was written
    (exit 0) from the text; now one line naming the file, column and row, exit 2, no table."""
    from tests.helpers.scripts import one_line_refusal, run_script

    healthy, _ = _healthy(n_subjects=6)
    healthy[SKETCH_COLUMNS[5]] = healthy[SKETCH_COLUMNS[5]].astype(object)
    healthy.loc[3, SKETCH_COLUMNS[5]] = cell
    path = tmp_path / "metrics.csv"
    healthy.to_csv(path, index=False)
    demographics = tmp_path / "IXI.csv"
    pd.DataFrame({"IXI_ID": range(100, 106), "SEX_ID": [1, 2] * 3, "AGE": np.linspace(25, 80, 6)}).to_csv(
        demographics, index=False
    )
    table = tmp_path / "tables" / "bias.csv"
    params = {"age_edges": [40, 60], "quantile": 0.98, "bootstrap": {"resamples": 100}, "caption": "x."}
    params["demographics"] = str(demographics)
    log = tmp_path / "bias.log"
    proc = run_script("make_bias_table.py", log, rule="bias", input={"healthy": [str(path)]},
                      output={"table": [str(table)]}, params=params)  # fmt: skip
    line = one_line_refusal(proc, log, "bias")
    assert f"column {SKETCH_COLUMNS[5]} holds '{cell}' in data row 4" in line and not table.exists()

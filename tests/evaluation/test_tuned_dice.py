"""Dice at a threshold tuned on labelled validation volumes (scoring/tuning.py, evaluation/dataset/tuned_dice.py):
exact on its grid, tuned on the other tuning fold only, carried through the merge of the shards."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from patch2loc.data.splits import tuning_folds, write_tuning_folds
from patch2loc.data.subjects import lesion_subjects
from patch2loc.data.subjects import tuning_folds as read_tuning_folds
from patch2loc.evaluation.dataset import tuned_dice as T
from patch2loc.scoring.metrics import dice_at
from patch2loc.scoring import tuning


def _volume(rng, lesion_level: float, shape=(10, 10, 10)):
    truth = np.zeros(shape, bool)
    truth[3:6, 3:6, 3:6] = True
    score = rng.normal(0.0, 1.0, shape).astype(np.float32) + lesion_level * truth
    return score, truth


def test_a_code_is_an_exact_threshold_for_every_value_sign_and_infinity():
    rng = np.random.default_rng(0)
    special = np.array([0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, np.inf, -np.inf], np.float32)
    x = np.concatenate([rng.normal(0, 3, 20000).astype(np.float32), special])
    codes = tuning.codes_of(x)
    for code in np.unique(codes):
        assert np.array_equal(codes >= code, x >= tuning.threshold_of(code)), code
    ranked = codes[np.argsort(x, kind="stable")].astype(int)
    assert np.all(np.diff(ranked) >= 0)  # order preserved
    assert tuning.threshold_of(tuning.codes_of(np.float32([1.0]))[0]) == 1.0


def test_dice_from_a_histogram_equals_the_dice_of_its_threshold():
    rng = np.random.default_rng(1)
    score, truth = _volume(rng, 2.0)
    keep = np.ones(score.shape, bool)
    keep[0] = False
    hist = tuning.code_histogram(score, truth, keep)
    for code in hist[0][::37]:
        t = tuning.threshold_of(code)
        assert tuning.dice_at_code(hist, int(code)) == pytest.approx(dice_at(score, truth, t, keep), abs=1e-12)
    assert np.isnan(tuning.dice_at_code(tuning.code_histogram(score, np.zeros_like(truth)), int(hist[0][0])))


def test_the_tuned_code_is_the_best_pooled_dice_over_every_code():
    rng = np.random.default_rng(2)
    vols = [_volume(rng, level) for level in (1.5, 2.5, 3.0)]
    hists = [tuning.code_histogram(s, y) for s, y in vols]
    code = tuning.tune_code(hists)

    def pooled(c):
        t = tuning.threshold_of(c)
        tp = sum(np.count_nonzero((s >= t) & y) for s, y in vols)
        pred = sum(np.count_nonzero(s >= t) for s, _ in vols)
        return 2 * tp / (pred + sum(y.sum() for _, y in vols))

    seen = np.unique(np.concatenate([h[0] for h in hists]))
    best = max(pooled(int(c)) for c in seen)
    assert pooled(code) == pytest.approx(best)
    assert tuning.tune_code([tuning.code_histogram(vols[0][0], np.zeros_like(vols[0][1]))]) is None


def test_a_threshold_picked_on_val_volumes_is_applied_to_test_volumes():
    # val: lesion at 5, tissue at 1 -> any threshold in (1, 5] is perfect; the middle of that step is tuned
    val = np.ones((6, 6, 6), np.float32)
    truth = np.zeros(val.shape, bool)
    truth[2:4, 2:4, 2:4] = True
    val[truth] = 5.0
    # test: lesion at 4 and a false blob at 3, both above the tuned threshold
    test = np.ones(val.shape, np.float32)
    test[truth] = 4.0
    test[0, 0, :2] = 3.0
    hists = {"v": tuning.code_histogram(val, truth), "t": tuning.code_histogram(test, truth)}
    out = T.crossfit(hists, {"v": 0, "t": 1})
    dice_t, thr_t = out["t"]
    assert 1.5 < thr_t < 3.0  # the middle of the step, in codes (about the geometric mean of 1 and 5)
    assert dice_t == pytest.approx(dice_at(test, truth, thr_t))
    assert dice_t == pytest.approx(2 * 8 / (10 + 8))  # the blob at 2 is counted: the test labels never moved it


def test_a_volume_never_tunes_its_own_threshold():
    rng = np.random.default_rng(3)
    vols = {f"s{i}": _volume(rng, 1.0 + i) for i in range(6)}
    folds = {f"s{i}": i % 2 for i in range(6)}
    hists = {s: tuning.code_histogram(*v) for s, v in vols.items()}
    before = T.crossfit(hists, folds)
    # relabel s0 (fold 0): fold 0's thresholds must not move, fold 1's must
    score, truth = vols["s0"]
    moved = dict(hists, s0=tuning.code_histogram(score, score > np.quantile(score, 0.5)))
    after = T.crossfit(moved, folds)
    for s in ("s0", "s2", "s4"):
        assert after[s][1] == before[s][1]
    assert any(after[s][1] != before[s][1] for s in ("s1", "s3", "s5"))
    assert np.isnan(T.crossfit(hists, {"s0": 0})["s1"][0])  # a volume without a tuning fold: NaN


def test_the_merge_adds_the_tuned_columns_for_both_protocols(tmp_path):
    rng = np.random.default_rng(4)
    subjects = [f"s{i}" for i in range(4)]
    entries = []
    for i, s in enumerate(subjects):
        score, truth = _volume(rng, 2.0 + i)
        ref = tuning.code_histogram(score * 2, truth) if i != 3 else None
        entries.append({"subject": s, "shared": tuning.code_histogram(score, truth), "ref": ref})
    T.write_tuning(tmp_path / "a.npz", entries[:2])
    T.write_tuning(tmp_path / "b.npz", entries[2:])
    back = T.read_tuning(tmp_path / "b.npz")
    assert set(back["ref"]) == {"s2"} and np.array_equal(back["shared"]["s3"][1], entries[3]["shared"][1])
    metrics = pd.DataFrame({"subject": subjects, "ref_dice": np.nan, "ref_threshold": np.nan, "ref_dice_mode": "x"})
    path = tmp_path / "metrics.csv"
    metrics.to_csv(path, index=False)
    folds = {"s0": 0, "s1": 1, "s2": 0, "s3": 1}
    assert T.merge_tuning([tmp_path / "a.npz", tmp_path / "b.npz"], path, folds) == 4
    out = pd.read_csv(path)
    assert out["dice_val"].between(0, 1).all() and out["val_threshold"].notna().all()
    assert out["ref_dice"].notna().tolist() == [True, True, True, False]
    assert (out["ref_dice_mode"] == T.CROSSFIT_MODE).sum() == 3
    metrics.to_csv(path, index=False)
    T.merge_tuning([tmp_path / "a.npz", tmp_path / "b.npz"], path, None)  # no <set>_val.csv: the columns, empty
    assert pd.read_csv(path)["dice_val"].isna().all()
    (tmp_path / "bad.npz").write_bytes(b"not an npz")
    with pytest.raises(T.InputError, match="bad.npz"):
        T.read_tuning(tmp_path / "bad.npz")


def test_tuning_folds_are_seeded_balanced_and_match_the_committed_files(tmp_path):
    ids = [f"p{i:03d}" for i in range(11)]
    a = tuning_folds(ids)
    assert a == tuning_folds(list(reversed(ids))) and sorted(a) == ids
    assert sorted(np.bincount(list(a.values()))) == [5, 6]
    repo = Path(__file__).resolve().parents[2]
    for splits_dir in (repo / "splits", repo / "splits" / "demo", repo / "splits" / "demo_long"):
        for dataset in ("BraTS21", "MSLUB", "ATLAS_v2", "WMH"):
            committed = read_tuning_folds(splits_dir, dataset)
            assert committed == tuning_folds(lesion_subjects(splits_dir, dataset)), (splits_dir, dataset)
    assert read_tuning_folds(tmp_path, "BraTS21") is None
    (tmp_path / "WMH.csv").write_text("subject_id,split\na,test\nb,test\n")
    assert [p.name for p in write_tuning_folds(tmp_path)] == ["WMH_val.csv"]
    (tmp_path / "WMH_val.csv").write_text("subject_id,fold\na,0\n")
    with pytest.raises(T.InputError, match="WMH_val.csv"):
        read_tuning_folds(tmp_path, "WMH")


def test_a_stack_of_two_contrasts_is_scored_with_its_tuning_histograms(tmp_path):
    """A T1T2 stack ([X, Y, Z, C] on disk, preprocessing/stack.py) goes through score_lesions with a
    two-channel model: finite metrics, the heatmap written on the 3-D grid, one tuning entry per volume."""
    from patch2loc.evaluation.dataset.score_dataset import Collected, Scan, ScoringConfig, score_lesions
    from patch2loc.files.io import load_volume, save_volume
    from patch2loc.methods.dae.model import DenoisingUNet
    from patch2loc.preprocessing.stack import stack_contrasts

    rng = np.random.default_rng(5)
    scans = []
    for i in range(2):
        seg = np.zeros((16, 16, 6), np.uint8)
        seg[5:9, 5:9, 2:4] = 1
        mask = np.zeros(seg.shape, np.uint8)
        mask[2:14, 2:14, 1:5] = 1
        folder = tmp_path / f"s{i}"
        files = []
        for c, level in (("T1", 1.0), ("T2", 2.0)):
            files.append(save_volume((rng.random(seg.shape) + level * seg).astype(np.float32), folder / f"{c}.nii.gz"))
        save_volume(mask, folder / "mask.nii.gz")
        save_volume(seg, folder / "seg.nii.gz")
        stack_contrasts(files, [folder / "mask.nii.gz"] * 2, folder / "image.nii.gz", folder / "stack_mask.nii.gz")
        scans.append(
            Scan(f"s{i}", str(folder / "image.nii.gz"), str(folder / "stack_mask.nii.gz"), str(folder / "seg.nii.gz"))
        )
    cfg = ScoringConfig(median_size=3, keep_heatmaps=1, device="cpu", patch_size=4)
    meta = {"method": "DAE", "modality": "T1T2", "fold": "0", "dataset": "BraTS21"}
    got = Collected()
    model = DenoisingUNet(width=4, channels=2).eval()
    metrics = score_lesions("DAE", scans, cfg, meta, 0.5, tmp_path / "maps", model, collected=got)[0]
    assert metrics["auprc"].between(0, 1).all() and len(got.tuning) == 2
    assert load_volume(tmp_path / "maps" / "s0.nii.gz").data.shape == (16, 16, 6)

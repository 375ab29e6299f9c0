"""Metrics against sklearn and brute force, on tiny random data with many ties."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from patch2loc.scoring import metrics as M
from patch2loc.scoring import unsupervised_threshold


def _tied_data(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.2
    # few distinct values -> many ties, shifted by the label so the metrics are not trivial
    scores = np.round(rng.normal(size=n) + 1.0 * labels, 1).astype(np.float32)
    return scores, labels


def _brute_best_dice(scores, labels):
    best, best_t = -1.0, None
    for t in np.unique(scores):
        pred = scores >= t
        d = 2 * np.sum(pred & labels) / (pred.sum() + labels.sum())
        if d > best or (d == best and t > best_t):
            best, best_t = d, t
    return best, best_t


@pytest.mark.parametrize("seed", range(5))
def test_auprc_auroc_equal_sklearn_with_ties(seed):
    scores, labels = _tied_data(seed)
    assert len(np.unique(scores)) < len(scores) / 3  # ties really present
    assert M.auprc(scores, labels) == pytest.approx(average_precision_score(labels, scores), abs=1e-12)
    assert M.auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_all_scores_tied():
    labels = np.array([0, 1, 0, 1, 1], bool)
    scores = np.zeros(5)
    assert M.auprc(scores, labels) == pytest.approx(average_precision_score(labels, scores))  # = 3/5
    assert M.auroc(scores, labels) == pytest.approx(0.5)
    assert M.best_dice(scores, labels) == pytest.approx((2 * 3 / (5 + 3), 0.0))


def test_mask_selects_voxels():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(6, 5, 4))
    labels = rng.random((6, 5, 4)) < 0.3
    mask = rng.random((6, 5, 4)) < 0.5
    assert M.auprc(scores, labels, mask) == pytest.approx(average_precision_score(labels[mask], scores[mask]))
    assert M.auroc(scores, labels, mask) == pytest.approx(roc_auc_score(labels[mask], scores[mask]))
    assert M.auprc(scores, labels) == pytest.approx(average_precision_score(labels.ravel(), scores.ravel()))


@pytest.mark.parametrize("seed", range(5))
def test_best_dice_equals_brute_force(seed):
    scores, labels = _tied_data(seed, n=300)
    dice, t = M.best_dice(scores, labels)
    ref_dice, ref_t = _brute_best_dice(scores.astype(np.float64), labels)
    assert dice == pytest.approx(ref_dice, abs=1e-12)
    assert t == pytest.approx(ref_t)
    assert M.dice_at(scores, labels, t) == pytest.approx(dice, abs=1e-12)


def test_best_dice_beats_bisection_on_negative_scores():
    # lesion scores are all negative: the bisection on [0, max] cannot reach them
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], bool)
    scores = np.array([-1.0, -1.2, -0.9, -5, -6, -7, -5.5, -6.5, -8, 0.5])
    exact, t = M.best_dice(scores, labels)
    bis, _ = M.bisection_best_dice(scores, labels)
    assert exact == pytest.approx(2 * 3 / (4 + 3))  # t = -1.2 also takes the 0.5 false positive
    assert t == pytest.approx(-1.2)
    assert bis < exact


def test_best_dice_beats_bisection_on_narrow_optimum():
    # the lesion sits in a narrow band [9.2, 9.3] under one outlier at 100: the quarter points
    # (25, 75, 12.5, 37.5, 6.25, 18.75, 3.125, 9.375, ...) never fall in the band's gap
    rng = np.random.default_rng(0)
    background = rng.uniform(0.0, 9.0, 2000)
    lesion = rng.uniform(9.2, 9.3, 20)
    outlier = np.array([100.0])
    scores = np.concatenate([background, lesion, outlier])
    labels = np.concatenate([np.zeros(2000, bool), np.ones(20, bool), [False]])
    exact, t = M.best_dice(scores, labels)
    bis, _ = M.bisection_best_dice(scores, labels)
    assert exact == pytest.approx(40 / 41) and t == pytest.approx(lesion.min())
    assert bis < 0.2
    for seed in range(5):  # and never worse on random data
        s, y = _tied_data(seed)
        assert M.best_dice(s, y)[0] >= M.bisection_best_dice(s, y)[0] - 1e-12


def test_bisection_follows_the_authors_rule():
    # max = 8: quarter points 2 and 6; Dice(score > 2) = 1 > Dice(score > 6) -> keep 2, go to [0, 4]
    scores = np.array([0.0, 1.0, 3.0, 8.0])
    labels = np.array([0, 0, 1, 1], bool)
    dice, t = M.bisection_best_dice(scores, labels, steps=1)
    assert (dice, t) == (1.0, 2.0)


def test_dice_at():
    scores = np.array([0.1, 0.5, 0.5, 0.9, 0.2])
    labels = np.array([0, 1, 0, 1, 0], bool)
    # >= 0.5 predicts 3 voxels, 2 of them lesion
    assert M.dice_at(scores, labels, 0.5) == pytest.approx(2 * 2 / (3 + 2))
    assert M.dice_at(scores, labels, 0.95) == 0.0
    assert np.isnan(M.dice_at(scores, np.zeros(5, bool), 0.5))


def test_empty_lesion_gives_nan():
    scores = np.arange(10.0)
    labels = np.zeros(10, bool)
    assert np.isnan(M.auprc(scores, labels))
    assert np.isnan(M.auroc(scores, labels))
    assert all(np.isnan(M.best_dice(scores, labels)))
    r = M.evaluate_volume(scores.reshape(2, 5, 1), labels.reshape(2, 5, 1), np.ones((2, 5, 1), bool))
    assert r["lesion_voxels"] == 0 and np.isnan(r["auprc"]) and np.isnan(r["best_dice"])


def test_unsupervised_threshold_pools_in_brain_voxels():
    a = np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    b = 100 + np.arange(8, dtype=np.float32).reshape(2, 2, 2)
    ma = np.zeros((2, 2, 2), bool)
    ma[0] = True  # 0, 1, 2, 3
    mb = np.zeros((2, 2, 2), bool)
    mb[1] = True  # 104 .. 107
    pooled = np.array([0, 1, 2, 3, 104, 105, 106, 107], float)
    assert unsupervised_threshold([a, b], [ma, mb], q=0.98) == pytest.approx(np.quantile(pooled, 0.98))
    assert unsupervised_threshold([a, b], [ma, mb], q=0.5) == pytest.approx(53.5)
    assert unsupervised_threshold([a], None, q=1.0) == 7.0


def test_evaluate_volume_regions():
    rng = np.random.default_rng(3)
    score = rng.normal(size=(8, 8, 3)).astype(np.float32)
    seg = np.zeros((8, 8, 3), bool)
    seg[2:5, 2:5, 1] = True
    score[seg] += 2
    brain = np.zeros((8, 8, 3), bool)
    brain[1:7, 1:7] = True
    score[~brain] = 0.0
    rb = M.evaluate_volume(score, seg, brain, region="brain", threshold=1.0)
    rv = M.evaluate_volume(score, seg, brain, region="volume")
    assert rb["auprc"] == pytest.approx(average_precision_score(seg[brain], score[brain]))
    assert rv["auprc"] == pytest.approx(average_precision_score(seg.ravel(), score.ravel()))
    assert rb["auroc"] == pytest.approx(roc_auc_score(seg[brain], score[brain]))
    assert rb["best_dice"] == pytest.approx(_brute_best_dice(score[brain].astype(float), seg[brain])[0])
    assert rb["dice_at_threshold"] == pytest.approx(M.dice_at(score, seg, 1.0, brain))
    assert np.isnan(rv["dice_at_threshold"])
    assert rb["lesion_voxels"] == rv["lesion_voxels"] == 9

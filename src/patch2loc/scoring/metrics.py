"""Voxel-wise segmentation metrics for anomaly maps (numpy only).

Every function takes `scores, labels, mask=None`: with a mask only the voxels inside it are
evaluated (in-brain protocol); with `mask=None` the whole volume is (the authors' protocol, where
background voxels carry score 0). Labels are lesion masks (> 0 is lesion).

AUPRC, AUROC and the exact best Dice share one O(n log n) pass: sort the scores once
(descending), accumulate true/false positives, and read the counts at the last element of
each run of tied scores, i.e. at each distinct threshold "predict lesion where score >= t".

Volumes without lesion voxels (in the evaluated region): AUPRC, best Dice and Dice are
undefined and returned as NaN (AUROC too, as it needs both classes); use nan-aware means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _select(scores, labels, mask=None) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores)
    labels = np.asarray(labels)
    if scores.shape != labels.shape:
        raise ValueError(f"scores shape {scores.shape} differs from labels shape {labels.shape}")
    if mask is not None:
        mask = np.asarray(mask) > 0
        if mask.shape != scores.shape:
            raise ValueError(f"mask shape {mask.shape} differs from scores shape {scores.shape}")
        scores, labels = scores[mask], labels[mask]
    scores = scores.ravel().astype(np.float64)
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    return scores, labels.ravel() > 0


@dataclass
class PRCurve:
    """Counts at each distinct threshold, highest first."""

    thresholds: np.ndarray  # distinct scores, descending
    tp: np.ndarray  # lesion voxels with score >= threshold
    fp: np.ndarray  # non-lesion voxels with score >= threshold
    n_pos: int
    n_neg: int


def pr_curve(scores, labels, mask=None) -> PRCurve:
    s, y = _select(scores, labels, mask)
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    last_of_run = np.flatnonzero(np.r_[s[1:] != s[:-1], True]) if s.size else np.array([], int)
    tp = np.cumsum(y, dtype=np.int64)[last_of_run]
    fp = (last_of_run + 1) - tp
    n_pos = int(y.sum())
    return PRCurve(thresholds=s[last_of_run], tp=tp, fp=fp, n_pos=n_pos, n_neg=int(y.size - n_pos))


def auprc(scores, labels, mask=None) -> float:
    """Average precision, equal to sklearn's `average_precision_score` (ties included):
    sum over distinct thresholds of (recall step) * precision. NaN without lesion voxels."""
    return curve_auprc(pr_curve(scores, labels, mask))


def curve_auprc(c: PRCurve) -> float:
    if c.n_pos == 0:
        return float("nan")
    precision = c.tp / (c.tp + c.fp)
    recall_step = np.diff(c.tp, prepend=0) / c.n_pos
    return float(np.sum(recall_step * precision))


def auroc(scores, labels, mask=None) -> float:
    """Area under the ROC curve (trapezoids between distinct thresholds, so ties count half),
    equal to sklearn's `roc_auc_score`. NaN unless both classes are present."""
    return _auroc(pr_curve(scores, labels, mask))


def _auroc(c: PRCurve) -> float:
    if c.n_pos == 0 or c.n_neg == 0:
        return float("nan")
    tpr = np.r_[0, c.tp] / c.n_pos
    fpr = np.r_[0, c.fp] / c.n_neg
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def best_dice(scores, labels, mask=None) -> tuple[float, float]:
    """Exact highest Dice over all thresholds "lesion where score >= t" and its threshold.

    Only distinct score values can change the prediction, so they are all tried. Ties in Dice
    go to the highest threshold. (NaN, NaN) without lesion voxels.
    """
    return curve_best_dice(pr_curve(scores, labels, mask))


def curve_best_dice(c: PRCurve) -> tuple[float, float]:
    if c.n_pos == 0:
        return float("nan"), float("nan")
    dice = 2.0 * c.tp / ((c.tp + c.fp) + c.n_pos)
    k = int(np.argmax(dice))
    return float(dice[k]), float(c.thresholds[k])


def dice_at(scores, labels, threshold: float, mask=None) -> float:
    """Dice of "lesion where score >= threshold". NaN without lesion voxels."""
    s, y = _select(scores, labels, mask)
    n_pos = int(y.sum())
    if n_pos == 0:
        return float("nan")
    pred = s >= threshold
    return float(2.0 * np.count_nonzero(pred & y) / (np.count_nonzero(pred) + n_pos))


def _dice_strict(s: np.ndarray, y: np.ndarray, t: float) -> float:
    pred = s > t
    denom = np.count_nonzero(pred) + np.count_nonzero(y)
    return float(2.0 * np.count_nonzero(pred & y) / denom) if denom else float("nan")


def bisection_best_dice(scores, labels, mask=None, steps: int = 10) -> tuple[float, float]:
    """The authors' threshold search (after Zimmerer), for comparison only.

    On [0, max score] (or [0, 1] if max is 0): evaluate Dice of "score > t" at the quarter
    points, keep the better one if it beats the best so far (starting at Dice 0, threshold 0),
    and recurse into the half containing it, `steps` times. It never tries negative thresholds
    and can step over a narrow optimum. NaN without lesion voxels.
    """
    s, y = _select(scores, labels, mask)
    if not y.any():
        return float("nan"), float("nan")
    lo, hi = 0.0, float(s.max()) if s.size else 0.0
    best, best_t = 0.0, 0.0
    for _ in range(steps):
        if lo == hi:
            hi = 1.0
        q_lo, q_hi = lo + 0.25 * (hi - lo), lo + 0.75 * (hi - lo)
        d_lo, d_hi = _dice_strict(s, y, q_lo), _dice_strict(s, y, q_hi)
        mid = lo + 0.5 * (hi - lo)
        if d_lo >= d_hi:
            if d_lo >= best:
                best, best_t = d_lo, q_lo
            hi = mid
        else:
            if d_hi >= best:
                best, best_t = d_hi, q_hi
            lo = mid
    return best, best_t


def evaluate_volume(score, seg, brain_mask, region: str = "brain", threshold: float | None = None) -> dict:
    """All metrics of one volume. region "brain": voxels in `brain_mask`; "volume": all voxels.

    Returns auprc, auroc, best_dice, best_threshold, dice_at_threshold (NaN when no threshold
    is given) and lesion_voxels (in the evaluated region).
    """
    if region not in ("brain", "volume"):
        raise ValueError(f"region must be 'brain' or 'volume', got {region!r}")
    mask = brain_mask if region == "brain" else None
    c = pr_curve(score, seg, mask)  # one sort for AUPRC, AUROC and best Dice
    out = {"auprc": curve_auprc(c), "auroc": _auroc(c)}
    out["best_dice"], out["best_threshold"] = curve_best_dice(c)
    out["dice_at_threshold"] = float("nan") if threshold is None else dice_at(score, seg, threshold, mask)
    out["lesion_voxels"] = int(c.n_pos)
    return out

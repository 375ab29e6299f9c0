"""Thresholds on anomaly maps: chosen without lesion labels, combined over folds, applied."""

from __future__ import annotations

import numpy as np


def unsupervised_threshold(score_volumes, masks, q: float = 0.98) -> float:
    """The q-quantile of the pooled in-brain scores of healthy volumes (an operating point
    chosen without lesion labels). `masks` may be None to pool whole volumes."""
    if masks is None:
        masks = [None] * len(score_volumes)
    if len(score_volumes) == 0 or len(score_volumes) != len(masks):
        raise ValueError("give one mask per score volume, and at least one volume")
    pooled = []
    for vol, m in zip(score_volumes, masks):
        vol = np.asarray(vol)
        pooled.append(vol.ravel() if m is None else vol[np.asarray(m) > 0])
    values = np.concatenate(pooled).astype(np.float64)
    if values.size == 0:
        raise ValueError("the masks select no voxels")
    return float(np.quantile(values, q))


def mean_threshold(thresholds: list[float | None]) -> float | None:
    """The folds' thresholds averaged (an ensemble's threshold: an approximation of its own
    quantile, which would need the healthy scans); None unless every fold has one."""
    values = [t for t in thresholds if t is not None]
    return float(np.mean(values)) if values and len(values) == len(thresholds) else None


def lesion_mask(score: np.ndarray, brain: np.ndarray, threshold: float) -> np.ndarray:
    """uint8 mask of the brain voxels whose score is at or above the threshold (`>=`: the one
    comparison of every thresholded output, Table 3's and the metrics' "score >= t")."""
    return ((score >= threshold) & brain).astype(np.uint8)

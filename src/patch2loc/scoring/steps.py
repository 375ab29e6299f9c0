"""The named steps an evaluation protocol is built from (scoring/protocol.py): each one element of a
reference harness, small enough to test on a crafted volume. Sources are cited per step; the
element-by-element comparison is docs/protocols.md.

Axial slices are the last axis (X, Y, Z), as the reference harnesses slice their volumes.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from patch2loc.scoring.median import scipy_median
from patch2loc.scoring.metrics import curve_auprc, curve_best_dice, PRCurve, pr_curve


def erode_slices(mask: np.ndarray, iterations: int) -> np.ndarray:
    """Binary erosion of each axial slice, `iterations` times, with the 4-connected cross.

    Behrendt et al.: utils_eval.py L438-451 (iterations = slice side // 25, 3 at 96 x 96);
    Baur et al.: utils/Evaluation.py L84-88 (12 iterations)."""
    mask = np.asarray(mask) > 0
    if iterations <= 0:
        return mask
    cross = ndimage.generate_binary_structure(2, 1)
    out = np.zeros_like(mask)
    for z in range(mask.shape[-1]):
        out[..., z] = ndimage.binary_erosion(mask[..., z], structure=cross, iterations=iterations)
    return out


def erode_avgpool(mask: np.ndarray, size: int = 5, level: float = 0.95) -> np.ndarray:
    """Keep a voxel where the mean of the mask over its size x size in-slice window (zero padded)
    exceeds `level`. Kascenas et al.: src/denoising.py L49 (avg_pool2d, kernel 5, padding 2, > 0.95)."""
    mask = (np.asarray(mask) > 0).astype(np.float64)
    window = (size, size) + (1,) * (mask.ndim - 2)
    # the reference pads with zeros and divides by the full window (count_include_pad)
    return ndimage.uniform_filter(mask, size=window, mode="constant", cval=0.0) > level


def median(score: np.ndarray, size: int, dims: int = 3) -> np.ndarray:
    """Median filter of side `size` over 3 axes (dims 3) or within each axial slice (dims 2).
    3D: utils_eval.py L453-455 and Evaluation.py L108-109 (5); 2D: src/denoising.py L55 (5)."""
    score = np.asarray(score, dtype=np.float32)
    if size <= 1:
        return score
    window = (size,) * 3 if dims == 3 else (size, size) + (1,) * (score.ndim - 2)
    return scipy_median(score, window)


def remove_components(pred: np.ndarray, max_size: int, connectivity: int = 26) -> np.ndarray:
    """Drop connected components of at most `max_size` voxels from a binary map.

    The references use skimage's label(connectivity=3) (26-connected in 3D) and regionprops'
    filled_area <= n: utils_eval.py L480-496 (7), Evaluation.py L113-125 (7), cc_filter.py L45-49
    (20). Filled area counts enclosed holes too; the size here is the component's own voxels, the
    same for the blobs this step is for (a few voxels, no holes)."""
    pred = np.asarray(pred) > 0
    if max_size <= 0:
        return pred
    rank = {6: 1, 18: 2, 26: 3}[connectivity]
    labels, _ = ndimage.label(pred, structure=ndimage.generate_binary_structure(pred.ndim, rank))
    sizes = np.bincount(labels.ravel())
    small = sizes <= max_size
    small[0] = False  # background
    return pred & ~small[labels]


def clip_rescale(volume: np.ndarray, mask: np.ndarray, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """Clip to the `low`-`high` percentiles of the in-mask intensities and rescale them to [0, 1].
    Behrendt et al.: create_dataset.py L185 (torchio RescaleIntensity, percentiles 1, 99, masking
    by the brain mask). A training-input step: no workflow column uses it yet (docs/protocols.md)."""
    volume = np.asarray(volume, dtype=np.float64)
    inside = volume[np.asarray(mask) > 0]
    if inside.size == 0:
        raise ValueError("clip_rescale: empty mask")
    lo, hi = np.percentile(inside, [low, high])
    if hi <= lo:
        return np.zeros(volume.shape, np.float32)
    return ((np.clip(volume, lo, hi) - lo) / (hi - lo)).astype(np.float32)


def _pooled_curve(scores: list, labels: list, masks: list | None) -> PRCurve:
    """One curve over the voxels of every volume (each in its mask, or whole)."""
    masks = masks or [None] * len(scores)
    s = np.concatenate([np.ravel(v if m is None else np.asarray(v)[np.asarray(m) > 0]) for v, m in zip(scores, masks)])
    y = np.concatenate([np.ravel(v if m is None else np.asarray(v)[np.asarray(m) > 0]) for v, m in zip(labels, masks)])
    return pr_curve(s, y)


def auprc_pooled(scores: list, labels: list, masks: list | None = None) -> float:
    """Average precision over the voxels of all volumes together (one curve for the set):
    Evaluation.py L427-431 (Baur), src/evaluate.py L46 (Kascenas). NaN without lesion voxels."""
    return curve_auprc(_pooled_curve(scores, labels, masks))


def auprc_per_volume(scores: list, labels: list, masks: list | None = None) -> np.ndarray:
    """Average precision of each volume (the shared protocol; utils_eval.py L75, mean at L207)."""
    masks = masks or [None] * len(scores)
    return np.array([curve_auprc(pr_curve(s, y, m)) for s, y, m in zip(scores, labels, masks)])


def threshold_grid(n: int, top: float = 1.0) -> np.ndarray:
    """n evenly spaced thresholds k * top / n, k = 0..n-1: src/evaluate.py L49 (x / 1000, [0, 1))."""
    return np.arange(n, dtype=np.float64) * (top / n)


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    """2|P & T| / (|P| + |T|); NaN when both are empty."""
    pred, truth = np.asarray(pred) > 0, np.asarray(truth) > 0
    denom = np.count_nonzero(pred) + np.count_nonzero(truth)
    return float(2.0 * np.count_nonzero(pred & truth) / denom) if denom else float("nan")


def best_dice_over(
    scores: list, labels: list, thresholds: np.ndarray, masks: list | None = None
) -> tuple[float, float]:
    """Highest pooled Dice of "score > t" over the given thresholds, and its t (first of ties):
    src/evaluate.py L49-54. Counts are pooled over the volumes, as there."""
    masks = masks or [None] * len(scores)
    tp = np.zeros(len(thresholds))
    predicted = np.zeros(len(thresholds))
    positives = 0
    t = np.asarray(thresholds, dtype=np.float64)
    for s, y, m in zip(scores, labels, masks):
        keep = np.ones(np.shape(s), bool) if m is None else np.asarray(m) > 0
        v, lab = np.asarray(s, np.float64)[keep], np.asarray(y)[keep] > 0
        positives += int(lab.sum())
        # voxels strictly above each threshold, lesion and all
        order_all, order_les = np.sort(v), np.sort(v[lab])
        predicted += v.size - np.searchsorted(order_all, t, side="right")
        tp += order_les.size - np.searchsorted(order_les, t, side="right")
    if positives == 0:
        return float("nan"), float("nan")
    values = 2.0 * tp / (predicted + positives)
    k = int(np.argmax(values))
    return float(values[k]), float(t[k])


def tune_threshold(scores: list, labels: list, masks: list | None = None) -> float:
    """The threshold of the highest Dice over the pooled voxels of labelled validation volumes
    (exact search over every distinct score; utils_eval.py L255-263 searches with Zimmerer's
    bisection instead, Evaluation.py L560 with its recursive curve). NaN without lesion voxels."""
    return curve_best_dice(_pooled_curve(scores, labels, masks))[1]


def dice_at_tuned(
    scores: list, labels: list, threshold: float, masks: list | None = None, max_size: int = 0, connectivity: int = 26
) -> np.ndarray:
    """Per test volume: Dice of "score > threshold" (a threshold tuned elsewhere), inside its mask,
    after removing components <= max_size voxels: utils_eval.py L86-99 (test stage, <= 7)."""
    masks = masks or [None] * len(scores)
    out = []
    for s, y, m in zip(scores, labels, masks):
        keep = np.ones(np.shape(s), bool) if m is None else np.asarray(m) > 0
        pred = remove_components((np.asarray(s) > threshold) & keep, max_size, connectivity)
        out.append(dice(pred, (np.asarray(y) > 0) & keep) if np.isfinite(threshold) else float("nan"))
    return np.array(out)


# Pooled AUPRC across scoring shards: each shard keeps, per distinct half-precision score, how many
# lesion and other voxels have it; summing these over shards gives the set's curve exactly for the
# scores rounded to float16, as src/evaluate.py L41-46 (Kascenas) itself computes AP on half precision.
Histogram = tuple[np.ndarray, np.ndarray, np.ndarray]  # (float16 values ascending, lesion counts, other counts)


def empty_histogram() -> Histogram:
    return np.zeros(0, np.float16), np.zeros(0, np.int64), np.zeros(0, np.int64)


def score_histogram(score: np.ndarray, truth: np.ndarray, keep: np.ndarray | None = None) -> Histogram:
    """Counts of lesion and other voxels per distinct float16 score (in `keep`, or the whole volume)."""
    s, y = np.asarray(score), np.asarray(truth) > 0
    if keep is not None:
        s, y = s[keep], y[keep]
    half = np.clip(s.ravel(), -65504, 65504).astype(np.float16)
    values, inverse = np.unique(half, return_inverse=True)
    lesion = np.bincount(inverse, weights=y.ravel(), minlength=values.size).astype(np.int64)
    total = np.bincount(inverse, minlength=values.size).astype(np.int64)
    return values, lesion, total - lesion


def merge_histograms(parts: list[Histogram]) -> Histogram:
    """The histogram of the union of the voxels the parts count."""
    parts = [p for p in parts if p[0].size]
    if not parts:
        return empty_histogram()
    values, inverse = np.unique(np.concatenate([p[0] for p in parts]), return_inverse=True)
    lesion = np.bincount(inverse, weights=np.concatenate([p[1] for p in parts]), minlength=values.size)
    other = np.bincount(inverse, weights=np.concatenate([p[2] for p in parts]), minlength=values.size)
    return values, lesion.astype(np.int64), other.astype(np.int64)


def auprc_from_histogram(hist: Histogram) -> float:
    """Average precision (sklearn's, ties as one step) of the voxels a histogram counts; NaN without lesion."""
    values, lesion, other = hist
    if lesion.sum() == 0:
        return float("nan")
    order = np.argsort(values.astype(np.float64))[::-1]  # highest score first
    tp, fp = np.cumsum(lesion[order]), np.cumsum(other[order])
    seen = (tp + fp) > 0
    return curve_auprc(PRCurve(values[order][seen].astype(np.float64), tp[seen], fp[seen], int(tp[-1]), int(fp[-1])))

"""One volume's lesion-wise metrics at a threshold: connected components, the WMH challenge's
detection counts, HD95 and the absolute volume difference (rules: the package docstring).

Runs inside the scoring jobs, while the volume's map is in memory (maps are not all kept), so it
is cheap: two labellings and one HD95 (scipy) per volume.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from patch2loc.evaluation.lesionwise.rule import CONNECTIVITY, LesionRule


def components(mask: np.ndarray, connectivity: int = 26) -> tuple[np.ndarray, int]:
    """Connected components of a boolean mask: (labels 1..n, 0 outside; n)."""
    structure = ndimage.generate_binary_structure(3, CONNECTIVITY[connectivity])
    labels, n = ndimage.label(mask, structure=structure)
    return labels, int(n)


def edges(mask: np.ndarray) -> np.ndarray:
    """The mask's boundary voxels: the mask minus its erosion by the 6-neighbour cross, the volume's
    outside empty (MONAI's get_mask_edges)."""
    return mask & ~ndimage.binary_erosion(mask)


def quantile32(values: np.ndarray, q: float) -> np.float32:
    """torch.quantile of float32 values, to the bit: q rounded to float32, the rank and the linear
    interpolation in float64, the result rounded to float32 (numpy's quantile keeps q in float64)."""
    ordered = np.sort(np.asarray(values, np.float32))
    rank = float(np.float32(q)) * (len(ordered) - 1)
    below, above = math.floor(rank), math.ceil(rank)
    low, high = float(ordered[below]), float(ordered[above])
    return np.float32(low + (rank - below) * (high - low))


def hd95(pred: np.ndarray, seg: np.ndarray, spacing) -> float:
    """95th-percentile Hausdorff distance (mm) between two masks, as MONAI's
    compute_hausdorff_distance(percentile=95) computes it (tests/evaluation/test_hd95_monai.py holds
    the two equal): the larger of the two directed 95th percentiles of the distances from one mask's
    boundary voxels to the other's. NaN when either is empty (the challenge: undefined without a
    prediction). Written with scipy: importing MONAI (all of its subpackages) takes a scoring job seconds."""
    if not pred.any() or not seg.any():
        return float("nan")
    union = np.argwhere(pred | seg)
    low, high = union.min(axis=0), union.max(axis=0)
    box = tuple(slice(max(a - 1, 0), b + 2) for a, b in zip(low, high))  # the erosion's outside stays empty
    # coordinates from MONAI's origin (its crop starts a voxel before the union), so they round alike
    shift = np.array([s.start for s in box]) - (low - 1)
    scale = np.asarray(spacing, np.float64)
    points = [(np.argwhere(edges(m[box])) + shift).astype(np.float64) * scale for m in (pred, seg)]
    there = cKDTree(points[1], leafsize=32).query(points[0], k=1)[0].astype(np.float32)
    back = cKDTree(points[0], leafsize=32).query(points[1], k=1)[0].astype(np.float32)
    return float(max(quantile32(there, 0.95), quantile32(back, 0.95)))


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def lesion_metrics(
    pred: np.ndarray, seg: np.ndarray, spacing, rule: LesionRule = LesionRule()
) -> tuple[dict, list[dict]]:
    """Metrics of one thresholded map against its lesion mask (both boolean, the same region
    already applied) and one row per counted lesion: (VOLUME_COLUMNS dict, rows of lesion,
    voxels, volume_ml, found). Recall and F1 are NaN without a counted lesion; precision is NaN
    without a prediction, and F1 is then 0."""
    pred, seg = np.asarray(pred, bool), np.asarray(seg, bool)
    if pred.shape != seg.shape:
        raise ValueError(f"prediction shape {pred.shape} differs from lesion mask shape {seg.shape}")
    voxel_ml = float(np.prod(spacing)) / 1000.0
    lesions, n_lesions = components(seg, rule.connectivity)
    sizes = np.bincount(lesions.ravel(), minlength=n_lesions + 1)[1:]
    found = np.bincount(lesions[pred], minlength=n_lesions + 1)[1:] > 0
    counted = sizes >= rule.min_size_voxels
    predicted, n_predicted = components(pred, rule.connectivity)
    touching = int(np.count_nonzero(np.bincount(predicted[seg], minlength=n_predicted + 1)[1:]))

    n_counted, n_found = int(counted.sum()), int((found & counted).sum())
    recall = n_found / n_counted if n_counted else math.nan
    precision = touching / n_predicted if n_predicted else math.nan
    f1 = math.nan if not n_counted else (0.0 if not n_predicted else _f1(precision, recall))
    lesion_voxels, pred_voxels = int(seg.sum()), int(pred.sum())
    metrics = {
        "lesions": n_counted,
        "lesions_found": n_found,
        "components": n_predicted,
        "fp_components": n_predicted - touching,
        "lesion_recall": recall,
        "lesion_precision": precision,
        "lesion_f1": f1,
        "hd95_mm": hd95(pred, seg, spacing),
        "avd_pct": 100.0 * abs(pred_voxels - lesion_voxels) / lesion_voxels if lesion_voxels else math.nan,
        "lesion_ml": lesion_voxels * voxel_ml,
        "predicted_ml": pred_voxels * voxel_ml,
    }
    rows = [
        {
            "lesion": int(i + 1),
            "voxels": int(sizes[i]),
            "volume_ml": float(sizes[i] * voxel_ml),
            "found": bool(found[i]),
        }
        for i in np.flatnonzero(counted)
    ]
    return metrics, rows

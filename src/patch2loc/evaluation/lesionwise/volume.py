"""One volume's lesion-wise metrics at a threshold: connected components, the WMH challenge's
detection counts, HD95 and the absolute volume difference (rules: the package docstring).

Runs inside the scoring jobs, while the volume's map is in memory (maps are not all kept), so it
is cheap: two labellings (scipy.ndimage) and one HD95 (MONAI) per volume.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import ndimage

from patch2loc.evaluation.lesionwise.rule import CONNECTIVITY, LesionRule


def components(mask: np.ndarray, connectivity: int = 26) -> tuple[np.ndarray, int]:
    """Connected components of a boolean mask: (labels 1..n, 0 outside; n)."""
    structure = ndimage.generate_binary_structure(3, CONNECTIVITY[connectivity])
    labels, n = ndimage.label(mask, structure=structure)
    return labels, int(n)


def hd95(pred: np.ndarray, seg: np.ndarray, spacing) -> float:
    """95th-percentile Hausdorff distance (mm) between two masks; NaN when either is empty (the
    challenge: undefined without a prediction)."""
    if not pred.any() or not seg.any():
        return float("nan")
    import torch
    from monai.metrics import compute_hausdorff_distance

    def batch(mask):  # (batch, channel, x, y, z), one channel: the lesion
        return torch.from_numpy(np.ascontiguousarray(mask, dtype=bool)[None, None])

    with warnings.catch_warnings():  # MONAI 1.5-1.6 warns about an argument it passes itself
        warnings.simplefilter("ignore", FutureWarning)
        value = compute_hausdorff_distance(
            batch(pred), batch(seg), include_background=True, percentile=95, spacing=[float(s) for s in spacing]
        )
    return float(value.reshape(-1)[0])


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

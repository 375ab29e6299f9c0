"""The WMH Segmentation Challenge's five metrics, as its evaluation script computes them.

Source: hjkuijf/wmhchallenge, evaluation.py (commit 2e628cb; Kuijf et al. 2019, IEEE TMI
38(11):2556-2568). Line numbers below are that file's.

- Masks (lines 47-50): the truth is label 1 only; voxels of label 2 ("other pathology") are set to
  0 in the prediction too, so they count neither as lesion nor as false positive. The caller passes
  them as `ignore`, removed from both masks (challenges.masks.checked).
- Dice (lines 89-95): 1 - scipy's Dice dissimilarity = 2|P and T| / (|P| + |T|); both masks empty
  give 0/0 there, NaN (scipy warns), and so here.
- HD95 (lines 98-135): NaN when the prediction is empty (lines 102-105). The boundary of each mask
  is the mask minus its SimpleITK BinaryErode with kernel radius (1, 1, 0) (lines 107-112): a 3x3
  in-plane square, no erosion across slices (z), and voxels outside the image count as foreground
  (SimpleITK's default), so a lesion's face on the image border is not boundary. Boundary voxels
  go to world coordinates (line 122; only the spacing matters for distances); each boundary's
  distances to the other's nearest point (a KD-tree, lines 127-133); the result is the larger of
  the two directed 95th percentiles, numpy's default linear interpolation (line 135). With an empty
  truth and a prediction the script stops (a KD-tree of no points): NaN here. A mask that fills
  whole slices erodes to itself in-plane (outside the image is foreground), so its boundary is
  empty and the script stops too (np.percentile of no distances): NaN here as well, a defined
  case, and the other four metrics keep their values.
- AVD (lines 182-191): |V_T - V_P| / V_T x 100 in voxels (= in volume, one grid); the script
  divides by zero for an empty truth: NaN here.
- Lesion recall and F1 (lines 138-179): lesions are 3D components with full (26-) connectivity
  (lines 142-143). recall = truth components holding a predicted voxel / truth components, 1.0
  without a truth component (lines 153-158); precision = predicted components holding a truth voxel
  / predicted components, 1.0 without a predicted component (lines 167-172); F1 = 2PR / (P + R),
  0.0 when P + R = 0 (lines 174-177). So: empty prediction -> recall 0, F1 0; empty truth with a
  prediction -> recall 1, F1 0; both empty -> recall 1, F1 1.

Counts (wmh_lesions, wmh_lesions_detected, wmh_components, wmh_components_hit) tell which volumes
stand behind each cell: HD95 needs wmh_lesions > 0 and wmh_components > 0, AVD wmh_lesions > 0,
Dice either of them > 0.
"""

from __future__ import annotations

import math

import numpy as np
import SimpleITK as sitk
from scipy.spatial import cKDTree

from patch2loc.evaluation.challenges.masks import component_hits, dice

COLUMNS = (
    "wmh_dice",
    "wmh_hd95_mm",
    "wmh_avd_pct",
    "wmh_recall",
    "wmh_f1",
    "wmh_lesions",
    "wmh_lesions_detected",
    "wmh_components",
    "wmh_components_hit",
)


def boundary(mask: np.ndarray) -> np.ndarray:
    """Mask minus its in-plane erosion (evaluation.py lines 107-112): SimpleITK's BinaryErode with
    radius (1, 1, 0) in its (x, y, z) order, our array axes (x, y, z) turned to its (z, y, x)."""
    image = sitk.GetImageFromArray(np.ascontiguousarray(mask.transpose(2, 1, 0), dtype=np.uint8))
    eroded = sitk.GetArrayFromImage(sitk.BinaryErode(image, (1, 1, 0))).transpose(2, 1, 0).astype(bool)
    return mask & ~eroded


def hd95(pred: np.ndarray, truth: np.ndarray, spacing) -> float:
    """The WMH script's HD95 in mm (lines 98-135); NaN with an empty prediction, truth or in-plane
    boundary (a mask filling whole slices)."""
    if not pred.any() or not truth.any():
        return math.nan
    scale = np.asarray(spacing, dtype=float)
    points_pred = np.argwhere(boundary(pred)) * scale
    points_truth = np.argwhere(boundary(truth)) * scale
    if len(points_pred) == 0 or len(points_truth) == 0:  # the script fails here: no distance to rank
        return math.nan
    pred_to_truth = cKDTree(points_truth).query(points_pred, k=1)[0]
    truth_to_pred = cKDTree(points_pred).query(points_truth, k=1)[0]
    return float(max(np.percentile(pred_to_truth, 95), np.percentile(truth_to_pred, 95)))


def detection(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Lesion counts, recall and F1 (lines 138-179)."""
    n_lesions, n_found, detected, hit = component_hits(pred, truth, 26)
    recall = 1.0 if n_lesions == 0 else detected / n_lesions
    precision = 1.0 if n_found == 0 else hit / n_found
    f1 = 0.0 if precision + recall == 0 else 2.0 * precision * recall / (precision + recall)
    return {
        "wmh_recall": recall,
        "wmh_f1": f1,
        "wmh_lesions": n_lesions,
        "wmh_lesions_detected": detected,
        "wmh_components": n_found,
        "wmh_components_hit": hit,
    }


def truths(labels: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"": (truth, ignore)} of a WMH label image (lines 47-50): the truth is label 1, label 2
    ("other pathology") is left out of both masks."""
    return {"": (labels == 1, labels == 2)}


def metrics(pred: np.ndarray, truth: np.ndarray, spacing) -> dict:
    """All columns for one volume (masks already checked, label 2 already removed)."""
    truth_voxels = int(truth.sum())
    avd = math.nan if truth_voxels == 0 else abs(truth_voxels - int(pred.sum())) / truth_voxels * 100.0
    values = {"wmh_dice": dice(pred, truth, both_empty=math.nan), "wmh_hd95_mm": hd95(pred, truth, spacing)}
    return values | {"wmh_avd_pct": avd} | detection(pred, truth)

"""BraTS 2023's lesion-wise Dice and HD95 (and its legacy whole-volume pair), per tumour region.

Source: rachitsaluja/BraTS-2023-Metrics, metrics.py (commit 43c9052), the code BraTS 2023 ranked
with; line numbers below are that file's. `metrics` scores one binary region; `truths` cuts a
BraTS label image into the three regions metrics.py scores one after the other (lines 326-334):

- Regions (lines 54-73, get_TissueWiseSeg): whole tumour WT = labels 1, 2, 3; tumour core TC =
  1, 3; enhancing tumour ET = 3, in BraTS 2023's labels (1 necrotic core NCR, 2 oedema ED, 3
  enhancing tumour). BraTS 2021 labels the enhancing tumour 4 (Baid et al. 2021, "The
  RSNA-ASNR-MICCAI BraTS 2021 Benchmark on Brain Tumor Segmentation and Radiogenomic
  Classification", arXiv:2107.02314: NCR 1, ED 2, ET 4; TC = ET + NCR, WT = TC + ED), so ET is
  label 4 or 3 here, and a BraTS21 label file gives the 2023 regions. The prediction is one mask
  for all three: an unsupervised map does not tell the sub-regions apart, so each region asks how
  well that one mask covers it.

- Parameters (lines 306-321): BraTS-GLI (gliomas): dilation factor 3, lesion volume threshold
  50 mm^3; missing values are 374 mm (lines 355, 366, 403).
- Truth lesions (lines 183-196 and 78-110): 26-connected components of the truth, merged when the
  truth dilated 3 times with scipy's 18-neighbour structure (generate_binary_structure(3, 2))
  joins them (components of the dilation, 26-connected). Predicted lesions: 26-connected
  components of the prediction (line 188).
- Matching (lines 209-252): for each truth lesion, the predicted components touching the lesion
  dilated the same way are its matches (they count as true positives, several per lesion and one
  for several lesions if so); its Dice and HD95 are taken between the lesion and the union of its
  matches (lines 231-239); predicted components matched to no lesion are false positives (lines
  250-252).
- HD95 (lines 238-239, 170-173): DeepMind's surface-distance, vendored there, in float64 as it
  computes it (surfaces.py): area-weighted 95th percentile each way on the voxel-corner grid, the
  larger of the two; infinite when either surface is empty.
- Score (lines 343-374): lesions of volume <= 50 mm^3 (voxels x voxel volume) are dropped, matched
  or not; infinite lesion HD95 (a missed lesion) becomes 374; lesion-wise Dice = sum of kept
  lesions' Dice / (kept lesions + false positives); lesion-wise HD95 = (sum of kept lesions' HD95
  + 374 x false positives) / (kept lesions + false positives). With no kept lesion and no false
  positive that is 0/0, NaN, which lines 370-374 turn into Dice 1 and HD95 0.
- Counts (lines 376-380): tp = kept lesions with a match, fn = kept lesions without, fp =
  false-positive components.
- Legacy (lines 156-173): whole-mask Dice and HD95; both empty -> Dice 1, HD95 0; an infinite HD95
  (one mask empty) -> 374 (line 403).

So: empty prediction with kept lesions -> Dice 0, HD95 374; empty truth with a prediction -> Dice
0, HD95 374; both empty -> Dice 1, HD95 0. No value is NaN. A tumour without an enhancing part
(ET empty) scores 1 / 0 on ET when nothing is predicted and 0 / 374 otherwise, as in BraTS.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from patch2loc.evaluation.challenges.masks import components, dice
from patch2loc.evaluation.challenges.surfaces import robust_hausdorff

DILATION = 3  # BraTS-GLI, metrics.py line 308
MIN_VOLUME_MM3 = 50.0  # BraTS-GLI, metrics.py line 309: lesions <= this are not scored
PENALTY_MM = 374.0  # metrics.py lines 355, 366, 403
_STRUCTURE = ndimage.generate_binary_structure(3, 2)  # metrics.py line 185
# Tumour region -> its labels: BraTS 2023's (metrics.py lines 54-73) with BraTS 2021's ET label 4.
REGIONS = {"wt": (1, 2, 3, 4), "tc": (1, 3, 4), "et": (3, 4)}

COLUMNS = (
    "brats_lesion_dice",
    "brats_lesion_hd95_mm",
    "brats_tp",
    "brats_fp",
    "brats_fn",
    "brats_small_lesions",
    "brats_dice",
    "brats_hd95_mm",
)


def truths(labels: np.ndarray) -> dict[str, tuple[np.ndarray, None]]:
    """{region: (truth, nothing ignored)} of a BraTS label image, in REGIONS order."""
    return {region: (np.isin(labels, values), None) for region, values in REGIONS.items()}


def truth_lesions(truth: np.ndarray) -> tuple[np.ndarray, int]:
    """Truth lesions after merging by dilation (metrics.py lines 78-110, 187-196): each truth voxel
    takes the label of its component of the dilated truth."""
    dilated, n = components(ndimage.binary_dilation(truth, structure=_STRUCTURE, iterations=DILATION), 26)
    return np.where(truth, dilated, 0), n


def _box(slices: list, shape) -> tuple[slice, ...]:
    """The smallest box holding every slice tuple in `slices`."""
    return tuple(
        slice(min(s[axis].start for s in slices), max(s[axis].stop for s in slices)) for axis in range(len(shape))
    )


def _grown(box: tuple[slice, ...], margin: int, shape) -> tuple[slice, ...]:
    return tuple(slice(max(b.start - margin, 0), min(b.stop + margin, n)) for b, n in zip(box, shape))


def _lesion_scores(lesions, n_lesions, found, spacing) -> tuple[list[tuple[float, float, float, bool]], set]:
    """Per truth lesion (volume mm^3, Dice, HD95, matched) and the matched predicted labels. Each
    lesion is handled in a box around it and its matches (the dilation reaches DILATION voxels), which
    changes no value: distances and overlaps do not depend on where the box is."""
    scores, matched = [], set()
    voxel_mm3 = float(np.prod(spacing))
    lesion_boxes, found_boxes = ndimage.find_objects(lesions), ndimage.find_objects(found)
    for label in range(1, n_lesions + 1):
        near = _grown(lesion_boxes[label - 1], DILATION, lesions.shape)
        roi = ndimage.binary_dilation(lesions[near] == label, structure=_STRUCTURE, iterations=DILATION)
        hits = np.unique(found[near][roi])
        hits = hits[hits != 0]
        matched.update(int(h) for h in hits)
        box = _box([lesion_boxes[label - 1]] + [found_boxes[h - 1] for h in hits], lesions.shape)
        lesion, union = lesions[box] == label, np.isin(found[box], hits)
        hd = robust_hausdorff(lesion, union, spacing)
        scores.append((int(lesion.sum()) * voxel_mm3, dice(union, lesion, 0.0), hd, len(hits) > 0))
    return scores, matched


def _penalised(hd: float) -> float:
    """An infinite HD95 (an empty surface) becomes 374 mm (metrics.py lines 355, 403); finite ones stay."""
    return PENALTY_MM if math.isinf(hd) else hd


def metrics(pred: np.ndarray, truth: np.ndarray, spacing) -> dict:
    """All columns for one volume (masks already checked)."""
    lesions, n_lesions = truth_lesions(truth)
    found, n_found = components(pred, 26)
    scores, matched = _lesion_scores(lesions, n_lesions, found, spacing)
    kept = [s for s in scores if s[0] > MIN_VOLUME_MM3]
    n_fp = n_found - len(matched)
    denominator = len(kept) + n_fp
    if denominator == 0:  # metrics.py lines 360-374: 0/0 -> NaN -> Dice 1, HD95 0
        lesion_dice, lesion_hd95 = 1.0, 0.0
    else:
        lesion_dice = sum(s[1] for s in kept) / denominator
        lesion_hd95 = (sum(_penalised(s[2]) for s in kept) + PENALTY_MM * n_fp) / denominator
    both_empty = not truth.any() and not pred.any()
    return {
        "brats_lesion_dice": lesion_dice,
        "brats_lesion_hd95_mm": lesion_hd95,
        "brats_tp": sum(1 for s in kept if s[3]),
        "brats_fp": n_fp,
        "brats_fn": sum(1 for s in kept if not s[3]),
        "brats_small_lesions": len(scores) - len(kept),
        "brats_dice": dice(pred, truth, both_empty=1.0),
        "brats_hd95_mm": 0.0 if both_empty else _penalised(robust_hausdorff(truth, pred, spacing)),
    }

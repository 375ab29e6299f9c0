"""Lesion metrics exactly as each lesion set's own challenge defines them.

One module per challenge, each citing the file and lines of the challenge's evaluation code:
- `wmh`: the WMH Segmentation Challenge (hjkuijf/wmhchallenge, evaluation.py): Dice, HD95 with an
  in-plane boundary, AVD in %, lesion recall and F1;
- `isles22`: ISLES'22 (ezequieldlrosa/isles22, utils/eval_utils.py): Dice, absolute volume
  difference in mL, lesion-wise F1 = TP / (TP + (FP + FN) / 2), absolute lesion count difference;
- `brats23`: BraTS 2023 lesion-wise Dice and HD95 (rachitsaluja/BraTS-2023-Metrics, metrics.py):
  dilation-based lesion matching, lesions <= 50 mm^3 left out, 374 mm per missed or spurious lesion,
  for the whole tumour, the tumour core and the enhancing tumour;
- `mslub`: the MSLUB set (Lesjak et al. 2018): Dice, lesion-wise TPR and FPR, volumes (the paper's
  metric definitions could not be read here: see that module).

Every function takes masks that are already thresholded (pred: the map's "lesion" voxels), so the
comparison that makes them (`score >= t`) is the caller's. `challenge_metrics` scores one binary
truth; `label_metrics` reads a lesion set's label image as its challenge does (each module's
`truths`: WMH's label 2 ignored, BraTS' three tumour regions, each with its own columns). Columns
are prefixed by the challenge; each module has count columns (lesions, components, matches) that
say how many volumes stand behind a cell, and its docstring says what each empty case gives and why.
"""

from __future__ import annotations

import numpy as np

from patch2loc.errors import InputError
from patch2loc.evaluation.challenges import brats23, isles22, mslub, wmh
from patch2loc.evaluation.challenges.masks import checked

CHALLENGES = {"wmh": wmh, "isles22": isles22, "brats23": brats23, "mslub": mslub}


def _module(challenge: str):
    if challenge not in CHALLENGES:
        raise InputError(f"challenge metrics: unknown challenge {challenge!r}; one of {sorted(CHALLENGES)}")
    return CHALLENGES[challenge]


def columns(challenge: str) -> tuple[str, ...]:
    """The columns `challenge_metrics` returns for this challenge, in order."""
    return _module(challenge).COLUMNS


def challenge_metrics(
    challenge: str,
    pred: np.ndarray,
    truth: np.ndarray,
    spacing: tuple[float, float, float],
    ignore: np.ndarray | None = None,
) -> dict[str, float]:
    """One volume's metrics as `challenge` defines them: {column: value} in `columns(challenge)` order.

    pred, truth: boolean arrays on the scan's grid; spacing: voxel size in mm along the array axes
    (x, y, z; axis 2 is the axial slice axis, which the WMH boundary does not erode across);
    ignore: voxels removed from both masks first (the WMH set's label 2), or None.
    """
    module = _module(challenge)
    pred, truth, spacing = checked(pred, truth, spacing, ignore)
    values = module.metrics(pred, truth, spacing)
    return {column: values[column] for column in module.COLUMNS}


def _region_column(column: str, region: str) -> str:
    """'brats_lesion_dice' of region 'wt' -> 'brats_wt_lesion_dice'; region '' leaves it as it is."""
    if not region:
        return column
    prefix, rest = column.split("_", 1)
    return f"{prefix}_{region}_{rest}"


def _regions(challenge: str) -> tuple[str, ...]:
    return tuple(getattr(_module(challenge), "REGIONS", None) or ("",))


def label_columns(challenge: str) -> tuple[str, ...]:
    """The columns `label_metrics` returns: `columns(challenge)` once per region of the challenge."""
    return tuple(_region_column(c, r) for r in _regions(challenge) for c in columns(challenge))


def label_metrics(challenge: str, pred: np.ndarray, labels: np.ndarray, spacing) -> dict[str, float]:
    """One volume's metrics from its label image, read as `challenge` reads it: each region's truth
    (and the voxels it ignores) scored against `pred` by `challenge_metrics`, in `label_columns` order."""
    values = {}
    for region, (truth, ignore) in _module(challenge).truths(np.asarray(labels)).items():
        scored = challenge_metrics(challenge, pred, truth, spacing, ignore)
        values.update({_region_column(c, region): v for c, v in scored.items()})
    return {column: values[column] for column in label_columns(challenge)}

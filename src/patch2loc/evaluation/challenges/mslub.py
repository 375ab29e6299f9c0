"""Metrics for the MSLUB set (Lesjak et al. 2018, Neuroinformatics 16(1):51-63,
doi:10.1007/s12021-017-9348-7), which had no challenge and no evaluation code.

What could be checked: the paper's abstract (PubMed 29103086) names lesion volume and lesion count
as the biomarkers its reference segmentations serve. Its section defining the agreement measures
could not be read in the stored material this was written from, so which metrics the paper
reports is not verified here. We use the common MS-lesion measures as the ISBI 2015 longitudinal
MS challenge named them (Carass et al. 2017, NeuroImage 148:77-102; its evaluation page lists
Dice, LTPR "lesion TPR based on lesion count" and LFPR "lesion FPR based on lesion count"), with
26-connected lesions as in wmh.py:

- mslub_dice = 2|P and T| / (|P| + |T|);
- mslub_ltpr = truth components holding a predicted voxel / truth components;
- mslub_lfpr = predicted components touching no truth voxel / predicted components;
- mslub_lesion_ml, mslub_predicted_ml: the two volumes (voxels x voxel volume), and the two
  counts, from which any volume or count difference follows.

Empty masks, by convention (no source defines them here), chosen to match the challenges above so
that no value is NaN: both masks empty -> Dice 1 (ISLES'22 eval_utils.py lines 42-44); no truth
lesion -> LTPR 1 (WMH evaluation.py lines 155-156); no predicted component -> LFPR 0 (WMH
evaluation.py lines 169-170 set precision to 1, i.e. no false-positive share). mslub_lesions and
mslub_components say which volumes these conventions touch (every MSLUB scan has lesions).
"""

from __future__ import annotations

import numpy as np

from patch2loc.evaluation.challenges.masks import any_label, component_hits, dice, voxel_ml

COLUMNS = (
    "mslub_dice",
    "mslub_ltpr",
    "mslub_lfpr",
    "mslub_lesions",
    "mslub_components",
    "mslub_lesion_ml",
    "mslub_predicted_ml",
)


truths = any_label  # the label image's truth: every label > 0


def metrics(pred: np.ndarray, truth: np.ndarray, spacing) -> dict:
    """All columns for one volume (masks already checked)."""
    n_lesions, n_found, detected, hit = component_hits(pred, truth, 26)
    false = n_found - hit
    return {
        "mslub_dice": dice(pred, truth, both_empty=1.0),
        "mslub_ltpr": 1.0 if n_lesions == 0 else detected / n_lesions,
        "mslub_lfpr": 0.0 if n_found == 0 else false / n_found,
        "mslub_lesions": n_lesions,
        "mslub_components": n_found,
        "mslub_lesion_ml": int(truth.sum()) * voxel_ml(spacing),
        "mslub_predicted_ml": int(pred.sum()) * voxel_ml(spacing),
    }

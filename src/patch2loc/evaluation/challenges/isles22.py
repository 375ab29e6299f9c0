"""ISLES'22's four metrics, as its evaluation utilities compute them.

Source: ezequieldlrosa/isles22, utils/eval_utils.py (commit 31b7c8c; Hernandez Petzsche et al.
2022, Sci Data 9:762). Line numbers below are that file's.

- Dice (lines 8-49): 2|P and T| / (|P| + |T|); both masks empty -> empty_value = 1.0 (lines
  42-44). An empty truth with a prediction, or the reverse, gives 0.
- Absolute volume difference (lines 52-92): |V_T - V_P| in mL, V = voxels x voxel volume in mL
  (the notebook utils/isles22_evaluate.ipynb takes prod(zooms) / 1000). Always defined.
- Absolute lesion count difference (lines 95-125): |N_T - N_P|, components of cc3d with
  connectivity 26 (lines 121-122, the default of line 95). Always defined.
- Lesion-wise F1 (lines 128-197): tp = truth components (26-connected, lines 166-168) holding at
  least one predicted voxel, fn = the others (lines 172-177); fp = predicted components touching
  no truth voxel (lines 181-187); F1 = tp / (tp + (fp + fn) / 2) (line 195), and empty_value = 1.0
  when tp + fp + fn = 0, i.e. both masks empty (lines 190-193). Empty prediction with lesions -> 0;
  empty truth with a prediction -> 0. Unlike the WMH F1 (wmh.py), a truth lesion touched by two
  predicted components is one tp here, and F1 takes no precision over predicted components.

No value is ever NaN; isles_lesions and isles_components count what stands behind each cell.
"""

from __future__ import annotations

import numpy as np

from patch2loc.evaluation.challenges.masks import any_label, component_hits, dice, voxel_ml

COLUMNS = (
    "isles_dice",
    "isles_avd_ml",
    "isles_f1",
    "isles_count_diff",
    "isles_lesions",
    "isles_components",
    "isles_tp",
    "isles_fp",
    "isles_fn",
)


truths = any_label  # the label image's truth: every label > 0


def metrics(pred: np.ndarray, truth: np.ndarray, spacing) -> dict:
    """All columns for one volume (masks already checked)."""
    n_lesions, n_found, tp, hit = component_hits(pred, truth, 26)
    fn, fp = n_lesions - tp, n_found - hit
    f1 = 1.0 if tp + fp + fn == 0 else tp / (tp + (fp + fn) / 2)
    return {
        "isles_dice": dice(pred, truth, both_empty=1.0),
        "isles_avd_ml": abs(int(truth.sum()) - int(pred.sum())) * voxel_ml(spacing),
        "isles_f1": f1,
        "isles_count_diff": abs(n_lesions - n_found),
        "isles_lesions": n_lesions,
        "isles_components": n_found,
        "isles_tp": tp,
        "isles_fp": fp,
        "isles_fn": fn,
    }

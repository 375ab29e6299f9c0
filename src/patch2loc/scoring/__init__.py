"""The scoring core: one normalised scan and a method's model(s) -> its anomaly map, the same for
every method and every front end (the workflow's scoring rules, `patch2loc predict`).

A method (`patch2loc.methods`, named in `patch2loc.registry`) only turns a volume into a raw map; everything after is here:
- `core.score_scan`: the raw maps of every model (fold) averaged voxel by voxel, then the
  post-processing, with the raw maps kept for the patch statistics;
- `postprocess`: the median filter and the brain mask;
- `thresholds`: the unsupervised threshold of healthy scores, the mean of the folds' thresholds,
  the lesion mask at a threshold;
- `metrics`: AUPRC, AUROC, best Dice and Dice at a threshold, the definitions every front end and the
  protocols (`steps`, `protocol`) share; here so that the core never imports `patch2loc.evaluation`.
"""

from patch2loc.scoring.core import ScanSettings, ScoredScan, score_scan
from patch2loc.scoring.postprocess import postprocess
from patch2loc.scoring.thresholds import lesion_mask, mean_threshold, unsupervised_threshold

__all__ = [
    "ScanSettings",
    "ScoredScan",
    "lesion_mask",
    "mean_threshold",
    "postprocess",
    "score_scan",
    "unsupervised_threshold",
]

"""Post-processing of a raw anomaly map, the same for every method: median filter, brain mask."""

from __future__ import annotations

import numpy as np

from patch2loc.scoring.median import masked_median, on_device, scipy_median


def postprocess(score: np.ndarray, brain_mask: np.ndarray, median_size: int = 7, device=None) -> np.ndarray:
    """3D median filter of side `median_size` (the authors' 7), then multiply by the brain mask.

    Kept apart from scoring so that raw and post-processed maps can both be evaluated.
    `median_size <= 1` only applies the mask. `device` (a torch.device; None: the CPU): on a GPU
    the filter runs there (scoring/median.py), with the same values as SciPy's on the CPU.
    """
    score = np.asarray(score, dtype=np.float32)
    size = int(median_size or 0)
    if size > 1 and on_device(device, score):
        return masked_median(score, brain_mask, (size,) * 3, device)
    if size > 1:
        score = scipy_median(score, (size,) * 3)
    return (score * (np.asarray(brain_mask) > 0)).astype(np.float32)

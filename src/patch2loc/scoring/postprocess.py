"""Post-processing of a raw anomaly map, the same for every method: median filter, brain mask."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def postprocess(score: np.ndarray, brain_mask: np.ndarray, median_size: int = 7) -> np.ndarray:
    """3D median filter of side `median_size` (the authors' 7), then multiply by the brain mask.

    Kept apart from scoring so that raw and post-processed maps can both be evaluated.
    `median_size <= 1` only applies the mask.
    """
    score = np.asarray(score, dtype=np.float32)
    if median_size and median_size > 1:
        score = ndimage.median_filter(score, size=int(median_size))
    return (score * (np.asarray(brain_mask) > 0)).astype(np.float32)

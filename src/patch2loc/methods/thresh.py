"""Thresh (Meissen et al. 2022a): the normalised intensity itself is the anomaly score.

Nothing is trained. The map goes through the same post-processing (median filter, brain mask),
threshold and metrics as every other method's (`patch2loc.scoring`).
"""

from __future__ import annotations

import numpy as np


def score(model, image, mask, settings) -> dict:
    return {"score": (np.asarray(image) * (np.asarray(mask) > 0)).astype(np.float32)}

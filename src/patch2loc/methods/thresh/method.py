"""Thresh (Meissen et al. 2022a): the normalised intensity itself is the anomaly score.

Nothing is trained. The map goes through the same post-processing (median filter, brain mask),
threshold and metrics as every other method's (`patch2loc.scoring`).
"""

from __future__ import annotations

import numpy as np

from patch2loc.interface import NoScoreOptions as ScoreOptions

__all__ = ["REFERENCE_PROTOCOL", "ScoreOptions", "activation_bytes", "score"]
REFERENCE_PROTOCOL = None  # no reference protocol of its own (NaN in the ref_* columns)


def score(model, image, mask, settings) -> dict:
    return {"score": (np.asarray(image) * (np.asarray(mask) > 0)).astype(np.float32)}


def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
    """No network: scoring holds nothing beyond the volume."""
    return 0

"""Crafted masks for the challenge metrics' tests: a (20, 20, 10) grid of 1 x 1 x 3 mm voxels, and
each challenge's metrics as one call."""

from __future__ import annotations

import numpy as np

from patch2loc.evaluation.challenges import challenge_metrics

SHAPE = (20, 20, 10)
ANISO = (1.0, 1.0, 3.0)  # one voxel = 3 mm^3 = 0.003 mL


def empty():
    return np.zeros(SHAPE, bool)


def metrics_of(challenge: str):
    """`metrics(pred, truth, spacing=ANISO, ignore=None)`: the dict of `challenge`'s metrics."""

    def metrics(pred, truth, spacing=ANISO, ignore=None):
        return challenge_metrics(challenge, pred, truth, spacing, ignore)

    return metrics

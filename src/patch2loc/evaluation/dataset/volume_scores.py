"""One number per volume (volume-level detection, Table 4) and a quantile sketch of its in-brain
scores (the bias table refits the unsupervised threshold on a subset of healthy volumes from them).

`volume_columns` is called once per volume by the scoring jobs (evaluation/dataset/score_dataset.py) with the
post-processed map's in-brain scores; its columns go into metrics.csv:

- `volume_score_p99`, `volume_score_p999`: the 99th and 99.9th percentile of the in-brain scores.
  A high quantile rather than the maximum: the maximum is one voxel (noise, an edge of the mask);
  the 99th percentile moves when about 1 % of the brain scores high, the 99.9th for smaller lesions.
- `volume_score_flagged`: the fraction of in-brain voxels at or above the unsupervised threshold.
- `brain_voxels` and, for healthy volumes (`sketch=True`), `sketch_q<level>`: the in-brain scores'
  quantiles at SKETCH_LEVELS (fine steps of 0.0005 from 0.95 up, where a threshold at the 0.98
  quantile falls). From them `pooled_quantile` refits a threshold over any subset of volumes and
  `fraction_above` gives each volume's fraction above it, both to within the level step around the
  threshold (0.05 percentage points there; `sketch_error` says how far it is for a given threshold).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

SKETCH_LEVELS = np.round(np.r_[0.0, 0.1, 0.25, 0.5, 0.75, 0.9, np.arange(0.95, 0.99951, 0.0005), 0.9999, 1.0], 6)
SKETCH_COLUMNS = [f"sketch_q{level:.4f}" for level in SKETCH_LEVELS]
VOLUME_SCORES = {"p99": "volume_score_p99", "p999": "volume_score_p999", "flagged": "volume_score_flagged"}


def volume_columns(in_brain: np.ndarray, threshold: float, *, sketch: bool = False) -> dict:
    """The volume-level columns of one volume from its in-brain scores (see the module's docstring)."""
    v = np.asarray(in_brain, np.float64).ravel()
    p99, p999 = np.quantile(v, [0.99, 0.999])
    out = {
        "volume_score_p99": float(p99),
        "volume_score_p999": float(p999),
        "volume_score_flagged": float(np.mean(v >= threshold)),
        "brain_voxels": int(v.size),
    }
    if sketch:
        out.update(zip(SKETCH_COLUMNS, map(float, np.quantile(v, SKETCH_LEVELS))))
    return out


def _cdf(sketch: np.ndarray, t: float) -> np.ndarray:
    """Each volume's fraction of scores <= t, linear between its sketch's quantiles ([volumes])."""
    return np.array([np.interp(t, q, SKETCH_LEVELS, left=0.0, right=1.0) for q in sketch])


def pooled_quantile(sketch: np.ndarray, voxels: np.ndarray, level: float) -> float:
    """The `level` quantile of the pooled scores of the volumes whose sketches ([volumes, levels]) and
    voxel counts are given: the t where the voxel-weighted mean of their CDFs reaches `level`."""
    sketch, weights = np.asarray(sketch, float), np.asarray(voxels, float)
    weights = weights / weights.sum()
    lo, hi = float(sketch.min()), float(sketch.max())
    for _ in range(100):  # bisection on a monotone function
        mid = (lo + hi) / 2
        if weights @ _cdf(sketch, mid) < level:
            lo = mid
        else:
            hi = mid
    return hi


def fraction_above(sketch: np.ndarray, t: float) -> np.ndarray:
    """Each volume's fraction of in-brain scores above t (from its sketch)."""
    return 1.0 - _cdf(np.asarray(sketch, float), t)


def sketch_error(sketch: np.ndarray, t: float) -> float:
    """The largest error of `fraction_above(sketch, t)` over the volumes: the step between the two
    sketch levels whose quantiles enclose t (the true fraction lies between them)."""
    steps = np.diff(SKETCH_LEVELS)
    return float(
        max(steps[min(max(np.searchsorted(q, t, side="right") - 1, 0), len(steps) - 1)] for q in np.asarray(sketch))
    )


def sketch_of(rows: pd.DataFrame) -> np.ndarray:
    """The sketch columns of metrics rows as an array [rows, levels]."""
    return rows[SKETCH_COLUMNS].to_numpy(float)

"""Lesion mask at a threshold and its connected components (volume, scores, world centroid)."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

COMPONENT_COLUMNS = (
    "component",
    "voxels",
    "volume_ml",
    "peak_score",
    "mean_score",
    "centroid_x_mm",
    "centroid_y_mm",
    "centroid_z_mm",
)


def components(mask: np.ndarray, score: np.ndarray, affine: np.ndarray) -> list[dict]:
    """Connected components of `mask` (26-connectivity: voxels touching at a corner belong
    together), largest first. Volume from the affine's voxel size; centroid (mean voxel
    position) in world coordinates (mm, the affine's RAS frame)."""
    from scipy import ndimage

    labels, n = ndimage.label(np.asarray(mask, bool), structure=np.ones((3, 3, 3), bool))
    if n == 0:
        return []
    index = np.arange(1, n + 1)
    voxels = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    peak = ndimage.maximum(score, labels, index)
    mean = ndimage.mean(score, labels, index)
    centres = np.asarray(ndimage.center_of_mass(np.ones(labels.shape), labels, index), np.float64)
    world = (np.c_[centres, np.ones(n)] @ np.asarray(affine, np.float64).T)[:, :3]
    voxel_ml = abs(float(np.linalg.det(np.asarray(affine, np.float64)[:3, :3]))) / 1000.0
    rows = [
        {
            "voxels": int(v),
            "volume_ml": float(v * voxel_ml),
            "peak_score": float(p),
            "mean_score": float(m),
            "centroid_x_mm": float(w[0]),
            "centroid_y_mm": float(w[1]),
            "centroid_z_mm": float(w[2]),
        }
        for v, p, m, w in zip(voxels, peak, mean, world)
    ]
    rows.sort(key=lambda r: (-r["voxels"], -r["peak_score"]))
    return [{"component": i + 1, **r} for i, r in enumerate(rows)]


def components_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COMPONENT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def summary_json(record: dict) -> str:
    """JSON with NaN written as null (strict JSON readers reject NaN)."""

    def clean(v):
        if isinstance(v, float) and not np.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v]
        return v

    return json.dumps(clean(record), indent=1)

"""What every challenge module shares: checked inputs, connected components, Dice and volumes.

Connected components use scipy.ndimage.label with the structure of the wanted connectivity; with
the full 3x3x3 structure it labels exactly as SimpleITK's ConnectedComponent with FullyConnected
(the WMH script) and cc3d's connectivity=26 (ISLES'22, BraTS 2023) do: 26-neighbour components.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from patch2loc.errors import InputError

# connectivity (neighbours of a voxel) -> rank of scipy's generate_binary_structure
_RANK = {6: 1, 18: 2, 26: 3}


def checked(pred, truth, spacing, ignore) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """(pred, truth, spacing) after checking them; `ignore` voxels (the WMH set's label 2, "other
    pathology") are removed from both masks, as the WMH script does (evaluation.py lines 47-50)."""
    arrays = {"pred": pred, "truth": truth} if ignore is None else {"pred": pred, "truth": truth, "ignore": ignore}
    for name, array in arrays.items():
        if not isinstance(array, np.ndarray) or array.dtype != bool or array.ndim != 3:
            raise InputError(
                f"challenge metrics: {name} must be a 3D boolean numpy array (threshold the map first), "
                f"got {type(array).__name__} {getattr(array, 'dtype', '')} {getattr(array, 'shape', '')}"
            )
        if array.shape != pred.shape:
            raise InputError(f"challenge metrics: {name} shape {array.shape} differs from pred shape {pred.shape}")
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != 3 or not all(math.isfinite(s) and s > 0 for s in spacing):
        raise InputError(f"challenge metrics: spacing {spacing} must be three positive voxel sizes in mm (x, y, z)")
    if ignore is not None:
        pred, truth = pred & ~ignore, truth & ~ignore
    return pred, truth, spacing


def any_label(labels: np.ndarray) -> dict[str, tuple[np.ndarray, None]]:
    """{"": (truth, nothing ignored)} of a label image whose every label > 0 is lesion."""
    return {"": (labels > 0, None)}


def components(mask: np.ndarray, connectivity: int = 26) -> tuple[np.ndarray, int]:
    """Connected components of a boolean mask: (labels 1..n, 0 outside; n)."""
    labels, n = ndimage.label(mask, structure=ndimage.generate_binary_structure(3, _RANK[connectivity]))
    return labels, int(n)


def hit_labels(labels: np.ndarray, n: int, other: np.ndarray) -> np.ndarray:
    """Boolean per component 1..n: does it share at least one voxel with `other`?"""
    return np.bincount(labels[other], minlength=n + 1)[1:] > 0


def component_hits(pred: np.ndarray, truth: np.ndarray, connectivity: int = 26) -> tuple[int, int, int, int]:
    """(true lesions, predicted components, true lesions a prediction touches, predicted components
    that touch a true lesion): the counts every challenge's lesion-wise detection starts from."""
    lesions, n_lesions = components(truth, connectivity)
    found, n_found = components(pred, connectivity)
    detected = int(hit_labels(lesions, n_lesions, pred).sum())
    return n_lesions, n_found, detected, int(hit_labels(found, n_found, truth).sum())


def dice(pred: np.ndarray, truth: np.ndarray, both_empty: float) -> float:
    """2 |P and T| / (|P| + |T|); `both_empty` when both masks are empty (each source says which)."""
    total = int(pred.sum()) + int(truth.sum())
    return both_empty if total == 0 else 2.0 * int(np.count_nonzero(pred & truth)) / total


def voxel_ml(spacing) -> float:
    """Volume of one voxel in mL (mm^3 / 1000)."""
    return float(np.prod(spacing)) / 1000.0

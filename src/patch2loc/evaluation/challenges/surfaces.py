"""Surface distances as DeepMind's surface-distance computes them, in float64 throughout.

BraTS 2023 scores HD95 with the copy of surface-distance that rachitsaluja/BraTS-2023-Metrics
vendors (surface_distance/metrics.py, commit 43c9052; line numbers below are that file's):

- surfaces lie on the voxel-corner grid: each corner gets the code of its 2x2x2 neighbourhood
  (8 bits, lines 118-129), after cropping both masks to their joint bounding box and padding one
  empty voxel at the high end of every axis (lines 73-116); a corner is surface unless its code is
  0 or 255 (lines 131-134);
- a surface element's area is the sum of the norms of its code's marching-cubes normals, each
  scaled by the products of the other two voxel sizes (lines 57-71), in float64;
- distances are the Euclidean distance transform of the other mask's non-surface corners with the
  voxel sizes (lines 136-148, 155-159); the elements are sorted by (distance, area) as Python sorts
  tuples (lines 161-172);
- the robust Hausdorff distance (lines 209-247) is, each way, the distance of the first element
  whose cumulative area share (np.cumsum / np.sum of the sorted areas) reaches percent / 100, the
  larger of the two; infinite when either surface is empty.

The areas come from DeepMind's own package (surface-distance on PyPI, the code BraTS vendors:
`lookup_tables.create_table_neighbour_code_to_surface_area`, float64). Its distances are not used:
they call scipy.ndimage.filters, deprecated and gone in SciPy 2, and sort Python tuples; the
vectorised sort below gives the same order. MONAI ports the same normals but sums the areas in
float32, which moves the 95 % point on tumour-sized surfaces.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import ndimage
from surface_distance.lookup_tables import (
    ENCODE_NEIGHBOURHOOD_3D_KERNEL,  # the bit of each corner of the 2x2x2 neighbourhood
    create_table_neighbour_code_to_surface_area,
)


@lru_cache(maxsize=32)
def _area_table(spacing: tuple[float, float, float]) -> np.ndarray:
    """Area in mm^2 of the surface element of every neighbourhood code (float64, the source's sum)."""
    return create_table_neighbour_code_to_surface_area(spacing)


def _codes(mask: np.ndarray, box: tuple[slice, ...]) -> np.ndarray:
    """Neighbourhood codes on the corner grid of `mask` cut to `box`, padded by one voxel at the end."""
    crop = np.zeros(tuple(s.stop - s.start + 1 for s in box), np.uint8)
    crop[:-1, :-1, :-1] = mask[box]
    return ndimage.correlate(crop, ENCODE_NEIGHBOURHOOD_3D_KERNEL, mode="constant", cval=0)


def _box(a: np.ndarray, b: np.ndarray) -> tuple[slice, ...]:
    """The joint bounding box of two non-empty masks."""
    nonzero = np.nonzero(a | b)
    return tuple(slice(int(idx.min()), int(idx.max()) + 1) for idx in nonzero)


def directed_distances(truth: np.ndarray, pred: np.ndarray, spacing) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{'truth': (distances to pred's surface, areas), 'pred': (distances to truth's surface, areas)},
    each sorted by (distance, area); both masks non-empty."""
    spacing = tuple(float(s) for s in spacing)
    box = _box(truth, pred)
    codes = {"truth": _codes(truth, box), "pred": _codes(pred, box)}
    surface = {k: (c != 0) & (c != 255) for k, c in codes.items()}
    table = _area_table(spacing)
    out = {}
    for own, other in (("truth", "pred"), ("pred", "truth")):
        distances = ndimage.distance_transform_edt(~surface[other], sampling=spacing)[surface[own]]
        areas = table[codes[own][surface[own]]]
        order = np.lexsort((areas, distances))
        out[own] = (distances[order], areas[order])
    return out


def _percentile(distances: np.ndarray, areas: np.ndarray, percent: float) -> float:
    """The first distance whose cumulative area share reaches percent / 100 (metrics.py 230-236)."""
    if len(distances) == 0:
        return math.inf
    cumulative = np.cumsum(areas) / np.sum(areas)
    index = int(np.searchsorted(cumulative, percent / 100.0))
    return float(distances[min(index, len(distances) - 1)])


def robust_hausdorff(truth: np.ndarray, pred: np.ndarray, spacing, percent: float = 95.0) -> float:
    """surface-distance's compute_robust_hausdorff(compute_surface_distances(truth, pred, spacing),
    percent) in mm; inf when either mask is empty."""
    if not truth.any() or not pred.any():
        return math.inf
    both = directed_distances(truth, pred, spacing)
    return max(_percentile(*both["truth"], percent), _percentile(*both["pred"], percent))

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

MONAI ports the same normals table (`_get_neighbour_code_to_normals_table`; two of its 256 entries
differ from DeepMind's in sign only, which no norm sees) but builds the areas and their cumulative
sum in float32, which moves the 95 % point on tumour-sized surfaces: the table here is the source's
float64 one, summed in the source's order.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import ndimage

# Bit of each corner of the 2x2x2 neighbourhood (surface_distance/metrics.py lines 122-125).
_KERNEL = np.array([[[128, 64], [32, 16]], [[8, 4], [2, 1]]])


@lru_cache(maxsize=32)
def _area_table(spacing: tuple[float, float, float]) -> np.ndarray:
    """Area in mm^2 of the surface element of every neighbourhood code: each normal (n0, n1, n2)
    scaled to (n0 s1 s2, n1 s0 s2, n2 s0 s1), its norm, summed in table order as a Python float."""
    from monai.metrics.utils import _get_neighbour_code_to_normals_table  # torch's import is seconds: here

    normals = _get_neighbour_code_to_normals_table().numpy().astype(np.float64)  # multiples of 1/8: exact
    table = np.zeros(256)
    for code in range(256):
        total = 0.0
        for normal in normals[code]:
            scaled = np.array(
                [
                    normal[0] * spacing[1] * spacing[2],
                    normal[1] * spacing[0] * spacing[2],
                    normal[2] * spacing[0] * spacing[1],
                ]
            )
            total += np.linalg.norm(scaled)
        table[code] = total
    return table


def _codes(mask: np.ndarray, box: tuple[slice, ...]) -> np.ndarray:
    """Neighbourhood codes on the corner grid of `mask` cut to `box`, padded by one voxel at the end."""
    crop = np.zeros(tuple(s.stop - s.start + 1 for s in box), np.uint8)
    crop[:-1, :-1, :-1] = mask[box]
    return ndimage.correlate(crop, _KERNEL, mode="constant", cval=0)


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

"""BraTS 2023's HD95 on tumour-sized surfaces (src/patch2loc/evaluation/challenges/surfaces.py): equal to
DeepMind's surface-distance, the package BraTS vendors, in float64; and its surface elements need
neither torch nor MONAI."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from patch2loc.evaluation.challenges import challenge_metrics
from patch2loc.evaluation.challenges.surfaces import robust_hausdorff

ISO = (1.0, 1.0, 1.0)


def _surface(mask):
    """Corner-grid surface points and their neighbourhood codes, as surface_distance/metrics.py
    builds them (lines 107-134), here by summing the shifted masks' bits."""
    padded = np.pad(mask, 1).astype(np.int64)
    shape = tuple(n - 1 for n in padded.shape)
    code = np.zeros(shape, np.int64)
    bits = np.array([[[128, 64], [32, 16]], [[8, 4], [2, 1]]])
    for i, j, k in np.ndindex(2, 2, 2):
        code += bits[i, j, k] * padded[i : i + shape[0], j : j + shape[1], k : k + shape[2]]
    surface = (code != 0) & (code != 255)
    return np.argwhere(surface), code[surface]


def _library_hd95(truth, pred, spacing) -> float:
    """DeepMind's surface-distance itself, the package BraTS 2023 vendors (its distances call
    scipy.ndimage.filters, which SciPy 1.x deprecates)."""
    from surface_distance import compute_robust_hausdorff, compute_surface_distances

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return compute_robust_hausdorff(compute_surface_distances(truth, pred, [float(s) for s in spacing]), 95)


def _source_hd95(truth, pred, spacing, dtype):
    """surface-distance's robust HD95 as its source computes it (lines 57-71, 161-172, 209-247), with
    the cumulative area share in `dtype`: the package's per-code areas, distances between surface
    points (here by a KD-tree), Python's sort of (distance, area) pairs."""
    from surface_distance.lookup_tables import create_table_neighbour_code_to_surface_area

    areas = create_table_neighbour_code_to_surface_area(spacing)
    (p_truth, c_truth), (p_pred, c_pred) = _surface(truth), _surface(pred)
    directed = []
    for own, codes, other in ((p_truth, c_truth, p_pred), (p_pred, c_pred, p_truth)):
        distances = cKDTree(other * np.array(spacing)).query(own * np.array(spacing))[0]
        pairs = sorted(zip(distances.tolist(), areas[codes].tolist()))
        share = np.cumsum(np.array([a for _, a in pairs], dtype)) / np.sum(np.array([a for _, a in pairs], dtype))
        directed.append(pairs[min(int(np.searchsorted(share, 0.95)), len(pairs) - 1)][0])
    return max(directed)


def _tumour_and_map(seed):
    """A tumour-sized truth (an ellipsoid of radii 20, 16, 12 voxels with a rough edge, ~16,000
    voxels) and a thresholded map: a smaller offset ellipsoid plus scattered blobs (3 % of the box)."""
    rng = np.random.default_rng(seed)
    shape, grid = (64, 64, 48), np.indices((64, 64, 48)).astype(float)

    def ellipsoid(centre, radii):
        noise = ndimage.gaussian_filter(rng.standard_normal(shape), 3)
        return sum(((grid[i] - centre[i]) / radii[i]) ** 2 for i in range(3)) + 0.15 * noise / noise.std() < 1

    truth = ellipsoid((32, 32, 24), (20, 16, 12))
    scattered = ndimage.gaussian_filter(rng.standard_normal(shape), 1.5)
    pred = (scattered > np.percentile(scattered, 97)) | ellipsoid((34, 30, 25), (14, 12, 9))
    return truth, pred


@pytest.mark.parametrize(("seed", "spacing"), [(5, (0.9, 1.0, 3.0)), (21, (0.9, 1.0, 3.0)), (26, ISO)])
def test_tumour_sized_hd95_is_the_float64_value(seed, spacing):
    # Surfaces of some 30,000 elements: a float32 cumulative sum of their areas moves the 95 % point
    # to a neighbouring distance on these three cases (a test that float64 arithmetic is kept).
    truth, pred = _tumour_and_map(seed)
    expected = _library_hd95(truth, pred, spacing)
    assert _source_hd95(truth, pred, spacing, np.float64) == pytest.approx(expected, rel=1e-12)
    assert expected != _source_hd95(truth, pred, spacing, np.float32)
    assert robust_hausdorff(truth, pred, spacing) == expected
    assert challenge_metrics("brats23", pred, truth, spacing)["brats_hd95_mm"] == pytest.approx(expected, rel=1e-12)


# A BraTS21 scoring job of a method without a network (Thresh) needs neither torch nor MONAI: the
# surface elements' areas come from surface-distance.
SURFACES_JOB = """import sys
import numpy as np
from patch2loc.evaluation.challenges import challenge_metrics
truth = np.zeros((12, 12, 8), bool)
truth[3:7, 3:7, 2:5] = True
hd95 = challenge_metrics("brats23", np.roll(truth, 2, 0), truth, (1.0, 1.0, 1.0))["brats_hd95_mm"]
print(hd95 > 0, sorted(set(sys.modules) & {"torch", "monai"}))"""


def test_brats_surface_elements_import_neither_torch_nor_monai():
    res = subprocess.run([sys.executable, "-c", SURFACES_JOB], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["True", "[]"], res.stdout

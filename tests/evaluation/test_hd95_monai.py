"""Table 3's HD95 is MONAI's compute_hausdorff_distance(percentile=95) to the bit, computed with scipy
(evaluation/lesionwise/volume.py), so that a scoring job need not import MONAI."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import ndimage

from patch2loc.evaluation.lesionwise.volume import hd95, quantile32

SPACINGS = [(1.0, 1.0, 1.0), (0.9375, 0.9375, 3.0), (1.2, 0.8, 2.5), (4.0, 4.0, 4.0), (0.7, 1.3, 1.1)]


def monai_hd95(pred, seg, spacing) -> float:
    import torch
    from monai.metrics import compute_hausdorff_distance

    def batch(mask):
        return torch.from_numpy(np.ascontiguousarray(mask, dtype=bool)[None, None])

    with warnings.catch_warnings():  # MONAI 1.5-1.6 warns about an argument it passes itself
        warnings.simplefilter("ignore", FutureWarning)
        value = compute_hausdorff_distance(
            batch(pred), batch(seg), include_background=True, percentile=95, spacing=[float(s) for s in spacing]
        )
    return float(value.reshape(-1)[0])


def _mask(rng, shape, kind: int) -> np.ndarray:
    """Scattered voxels, smooth blobs (the unsupervised threshold's components), or a box that
    touches the volume's faces (where the erosion's outside decides the boundary)."""
    if kind == 0:
        return rng.random(shape) < rng.uniform(0.002, 0.3)
    if kind == 1:
        smooth = ndimage.gaussian_filter(rng.random(shape), rng.uniform(0.5, 3.0))
        return smooth > np.quantile(smooth, rng.uniform(0.5, 0.99))
    mask = np.zeros(shape, bool)
    mask[: rng.integers(1, shape[0]), rng.integers(0, shape[1] - 1) :, :] = True
    return mask


@pytest.mark.parametrize("spacing", SPACINGS)
def test_hd95_equals_monais_to_the_bit(spacing):
    rng = np.random.default_rng(int(1000 * sum(spacing)))
    compared = 0
    for case in range(24):
        shape = tuple(int(n) for n in rng.integers(3, 36, 3))
        pred, seg = _mask(rng, shape, case % 3), _mask(rng, shape, (case + 1) % 3)
        if not pred.any() or not seg.any():
            continue
        assert hd95(pred, seg, spacing) == monai_hd95(pred, seg, spacing), (case, shape)
        compared += 1
    one = np.zeros((9, 9, 9), bool)
    one[4, 4, 4] = True
    far = np.zeros_like(one)
    far[0, 8, 0] = True
    assert hd95(one, far, spacing) == monai_hd95(one, far, spacing)  # single voxels, one in a corner
    assert compared >= 20


def test_quantile32_is_torchs_quantile_of_float32_values():
    import torch

    rng = np.random.default_rng(3)
    for n in [*range(1, 400), 5_000, 60_000]:
        values = (rng.random(n) * rng.choice([0.01, 1.0, 300.0])).astype(np.float32)
        assert float(quantile32(values, 0.95)) == torch.quantile(torch.from_numpy(values), 0.95).item(), n


def test_lesion_metrics_import_no_monai():
    code = (
        "import sys, numpy as np\n"
        "from patch2loc.evaluation.lesionwise.volume import lesion_metrics\n"
        "m = np.zeros((8, 8, 8), bool); m[2:5, 2:5, 2:5] = True\n"
        "print(lesion_metrics(m, np.roll(m, 2, 0), (1.0, 1.0, 2.0))[0]['hd95_mm'], 'monai' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["2.0", "False"]

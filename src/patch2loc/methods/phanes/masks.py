"""PHANES' masks: the synthetic training ellipses, and the anomaly mask from the coarse reconstruction.

References (ci-ber/PHANES@c8995ed, docs/phanes.md):
- synthetic masks (transforms/synthetic.py l. 83-132, `GenerateMasks`): per image 10 filled ellipses,
  centre (x, y) uniform integers in [32, 96) for 128 px, semi-axes int(max(|N(2, 4)|, 2)) px, angle a
  uniform integer degree in [0, 360); drawn here from a torch.Generator and rasterised analytically
  (a pixel is in when its centre is in the ellipse; OpenCV's polygon fill, which the reference calls,
  can differ on boundary pixels). Other sizes scale the centre range and the semi-axes by size / 128;
- residual (model_zoo/phanes.py l. 176-190): |CLAHE(y) - CLAHE(x)| per image, divided by its own 95th
  percentile + 1e-8, clipped at 1; the anomaly map is residual x saliency (l. 281-282);
- binarisation (l. 200-209): map > threshold, the threshold being given or, when None, the image's own
  95th percentile. The reference, given None, keeps the first image's percentile for the whole batch
  (its loop rebinds the threshold); here each image gets its own (the intent its docstring states;
  the paths that use None run one image at a time, so the results there are the same);
- smoothing (l. 210-214): a Gaussian of sigma 1.2 (scipy, mode 'reflect') then > 0.1, a soft dilation.
  The reference filters the stacked [B, 1, H, W] array, so along the batch axis too: masks bleed into
  neighbouring images of a training batch. Per image here by default; `across_batch=True` is the reference's;
- masked input x (1 - m) + m (l. 290-291); composite (1 - m) x + m y (l. 296; PhanesTrainer.py l. 252).
The CLAHE and the saliency are arguments (RA's; PHANES uses the same as RA).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from scipy.ndimage import gaussian_filter

ELLIPSES = 10  # per image (synthetic.py l. 118)
CENTRE_RANGE = (32, 96)  # px of 128 (synthetic.py l. 86)
AXES_NORMAL = (2.0, 4.0)  # mean, std of the semi-axes, px of 128 (synthetic.py l. 86, 122-123)
AXIS_MIN = 2  # synthetic.py l. 123
REFERENCE_SIZE = 128
RESIDUAL_PERCENTILE = 0.95  # phanes.py l. 184
EPS = 1e-8  # phanes.py l. 185
MASK_PERCENTILE = 95  # threshold None (phanes.py l. 204)
SMOOTH_SIGMA, SMOOTH_CUT = 1.2, 0.1  # phanes.py l. 210-214
TRAIN_THRESHOLD = 0.1  # masking_threshold_train (configs/atlas/phanes.yaml l. 45)
VALIDATION_THRESHOLD = 0.153  # masking_threshold_infer (l. 46); get_anomaly passes None (phanes.py l. 299-300)


def ellipse(size: int, centre: tuple[int, int], axes: tuple[int, int], angle: float) -> torch.Tensor:
    """[size, size] of 0/1: a filled ellipse, OpenCV's conventions: centre (x = column, y = row),
    axes (along x, along y) before a rotation by `angle` degrees (clockwise on screen: y points down)."""
    rows = torch.arange(size, dtype=torch.float64)[:, None] - centre[1]
    cols = torch.arange(size, dtype=torch.float64)[None, :] - centre[0]
    t = math.radians(angle)
    u = cols * math.cos(t) + rows * math.sin(t)
    v = -cols * math.sin(t) + rows * math.cos(t)
    return ((u / axes[0]) ** 2 + (v / axes[1]) ** 2 <= 1).float()


def synthetic_masks(batch: int, size: int, generator: torch.Generator, count: int = ELLIPSES) -> torch.Tensor:
    """[batch, 1, size, size] of 0/1: `count` random ellipses per image, drawn from `generator`."""
    scale = size / REFERENCE_SIZE
    lo, hi = round(CENTRE_RANGE[0] * scale), round(CENTRE_RANGE[1] * scale)
    masks = torch.zeros(batch, 1, size, size)
    for b in range(batch):
        for _ in range(count):
            cx, cy = torch.randint(lo, hi, (2,), generator=generator).tolist()
            raw = (torch.randn(2, generator=generator, dtype=torch.float64) * AXES_NORMAL[1] + AXES_NORMAL[0]).abs()
            axes = [max(int(max(a, AXIS_MIN) * scale), 1) for a in raw.tolist()]
            angle = int(torch.randint(0, 360, (1,), generator=generator))
            masks[b, 0] = torch.maximum(masks[b, 0], ellipse(size, (cx, cy), (axes[0], axes[1]), angle))
    return masks


def normalised_residual(
    x: torch.Tensor, y: torch.Tensor, clahe: Callable[[np.ndarray], np.ndarray], clip: bool = True
) -> torch.Tensor:
    """[B, 1, H, W]: |clahe(y) - clahe(x)| per image over its 95th percentile (+1e-8), clipped at 1
    (unless `clip` is False: the offline variant's, see `anomaly_mask`).
    `clahe` takes and returns a [H, W] float array (the reference passes [1, H, W] to skimage's
    equalize_adapthist, which gives the same values as on [H, W])."""
    out = torch.empty_like(x, dtype=torch.float32)
    for b in range(x.shape[0]):
        xs, ys = (np.asarray(clahe(t[b, 0].detach().cpu().numpy()), dtype=np.float32) for t in (x, y))
        res = torch.from_numpy(np.abs(ys - xs))
        q = torch.quantile(res, RESIDUAL_PERCENTILE)
        out[b, 0] = (res / (q + EPS)).clamp(max=1) if clip else res / (q + EPS)
    return out


def binarise(maps: torch.Tensor, threshold: float | None) -> torch.Tensor:
    """[B, 1, H, W] 0/1: map > threshold, or > the image's own 95th percentile when threshold is None."""
    out = torch.empty_like(maps, dtype=torch.float32)
    for b in range(maps.shape[0]):
        m = maps[b, 0].detach().cpu().numpy()
        thr = np.percentile(m, MASK_PERCENTILE) if threshold is None else threshold
        out[b, 0] = torch.from_numpy((m > thr).astype(np.float32))
    return out.to(maps.device)


def smooth(masks: torch.Tensor, across_batch: bool = False) -> torch.Tensor:
    """Gaussian sigma 1.2 then > 0.1: a soft dilation, per image (or over the stacked batch as the reference)."""
    a = masks.detach().cpu().numpy().astype(np.float64)
    if across_batch:
        blurred = gaussian_filter(a, sigma=SMOOTH_SIGMA)
    else:
        blurred = np.stack([[gaussian_filter(img, sigma=SMOOTH_SIGMA) for img in item] for item in a])
    return torch.from_numpy((blurred > SMOOTH_CUT).astype(np.float32)).to(masks.device)


def anomaly_mask(
    x: torch.Tensor,
    y: torch.Tensor,
    clahe: Callable[[np.ndarray], np.ndarray],
    saliency: torch.Tensor | Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    threshold: float | None,
    across_batch: bool = False,
    clip: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(mask, map) for images x and their coarse reconstructions y ([B, 1, H, W] in [0, 1]): map = the
    normalised residual x saliency, `saliency` a [B, 1, H, W] tensor or saliency(y, x) giving one
    (RA's LPIPS map, Gaussian-smoothed); mask = the smoothed binarised map. `clip` False: the residual
    is not clipped at 1. For the offline variant (saliency 1): clipped, its top 5 % all equal 1, so
    the per-image 95th percentile is 1 and `> threshold` would mask nothing; unclipped, the mask is
    the pixels above the residual's own 95th percentile. The clip changes nothing at thresholds < 1."""
    sal = saliency(y, x) if callable(saliency) else saliency
    amap = normalised_residual(x, y, clahe, clip).to(sal.device) * sal
    return smooth(binarise(amap, threshold), across_batch), amap


def union(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The training mask: the anomaly mask and the synthetic one, clipped at 1 (PhanesTrainer.py l. 247-248)."""
    return (a + b).clamp(max=1)


def masked_input(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """The inpainter's input: masked pixels set to 1 (phanes.py l. 291)."""
    return x * (1 - m) + m


def composite(x: torch.Tensor, y: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """x outside the mask, y inside (phanes.py l. 296)."""
    return (1 - m) * x + m * y

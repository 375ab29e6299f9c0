"""PHANES' restoration of slices and its anomaly map (docs/phanes.md), shared by the validation
(train.py) and the scoring (score.py).

ci-ber/PHANES@c8995ed model_zoo/phanes.py `forward` (l. 250-297) and `get_anomaly` (l. 299-312):
- coarse pseudo-healthy y = RA's decoder of a SAMPLED code (deterministic=False, the default, l. 268-278),
  here set to 0 outside the brain mask as the input slice is (a deviation, docs/phanes.md: the reference's
  skull-stripped slices have a 0 background that a trained VAE reproduces; an undertrained one's
  background residual would take the mask's 5 % where the pipeline does not score);
- anomaly mask from x and y (masks.anomaly_mask: normalised CLAHE residual x saliency(y, x),
  binarised at the threshold, or at the image's 95th percentile when None, then the soft dilation);
- the inpainter's output on the masked input, clamped to [0, 1]; final = x outside the mask, the
  inpainting inside (l. 288-296);
- map = |x - final| x saliency(final, x) (l. 303-308), saliency = the LPIPS-squeeze spatial map of
  (2a - 1, 2b - 1) smoothed by a Gaussian of sigma 2 (l. 192-198; networks/lpips.py).
The offline variant has no LPIPS network: its saliency is 1 everywhere, in the mask and in the map,
so its map is |x - final| alone, and its mask is the residual's (not clipped at 1: `mask_of`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from skimage.exposure import equalize_adapthist

from patch2loc.networks.lpips import SqueezeLPIPS, saliency
from patch2loc.methods.phanes.masks import anomaly_mask, composite, masked_input


def clahe(image):
    """scikit-image's CLAHE with its defaults on one [H, W] slice in [0, 1] (phanes.py l. 179-180)."""
    return equalize_adapthist(image)


def saliency_of(perceptual: SqueezeLPIPS | None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """saliency(a, b) -> [B, 1, H, W] on b's device: the smoothed LPIPS map, or ones without a network."""
    if perceptual is None:
        return lambda a, b: torch.ones_like(b, dtype=torch.float32)
    return lambda a, b: torch.from_numpy(saliency(perceptual, a, b)).unsqueeze(1).to(b.device)


def mask_of(perceptual: SqueezeLPIPS | None, x, coarse, threshold: float | None, across_batch: bool = False):
    """The anomaly mask [B, 1, S, S] of slices x and their coarse reconstructions (masks.anomaly_mask);
    without an LPIPS network saliency 1 and the residual not clipped at 1 (masks.anomaly_mask says why)."""
    clip = perceptual is not None
    return anomaly_mask(x, coarse, clahe, saliency_of(perceptual), threshold, across_batch, clip)[0]


@torch.no_grad()
def restore(model, x: torch.Tensor, generator, threshold: float | None, brain=None, across_batch: bool = False):
    """(final, coarse, mask), each [B, 1, S, S], of slices x [B, 1, S, S] in [0, 1] on the model's grid;
    `brain` (0/1, x's shape): the coarse reconstruction is multiplied by it, as x is (docs/phanes.md)."""
    coarse = model.vae(x, generator)[0].float()
    if brain is not None:
        coarse = coarse * brain
    mask = mask_of(model.perceptual, x, coarse, threshold, across_batch)
    inpainted = model.generator(masked_input(x, mask), mask).float().clamp(0, 1)
    return composite(x, inpainted, mask), coarse, mask


def phanes_map(perceptual: SqueezeLPIPS | None, x: torch.Tensor, final: torch.Tensor) -> torch.Tensor:
    """[B, 1, S, S]: |x - final| x saliency(final, x); the residual alone without a network."""
    return (x - final).abs() * saliency_of(perceptual)(final, x)

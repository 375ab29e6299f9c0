"""RA's training augmentation with torch operations on the device, drawn from the training generator.

The reference's loader applies torchvision's RandomAffine(degrees 10, translate (0.1, 0.1), scale
(0.9, 1.1)) and RandomHorizontalFlip(0.5) to each training slice (ci-ber/RA@9b7a255
data/loaders/fastmri_loader.py l. 34-41). Here the same distribution per slice: an angle uniform in
[-10, 10] degrees, a shift of a whole number of pixels uniform in [-0.1, 0.1] of the side (rounded,
as torchvision does), a scale uniform in [0.9, 1.1] about the slice's centre, nearest-neighbour
sampling with zeros outside (torchvision's defaults), then a left-right flip with probability 0.5.
Not reproduced: the reference's round trip through an 8-bit PIL image (ToPILImage) quantises the
slice to 256 grey levels.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

DEGREES, TRANSLATE, SCALE, FLIP = 10.0, 0.1, (0.9, 1.1), 0.5


def affine_parameters(count: int, side: int, generator: torch.Generator, device) -> torch.Tensor:
    """[count, 5]: angle (radians), shift x, shift y (pixels), scale, flip (0 or 1), one row per slice."""
    u = torch.rand((count, 5), generator=generator, device=device)
    angle = (2 * u[:, 0] - 1) * math.radians(DEGREES)
    shift = torch.round((2 * u[:, 1:3] - 1) * TRANSLATE * side)
    scale = SCALE[0] + u[:, 3] * (SCALE[1] - SCALE[0])
    flip = (u[:, 4] < FLIP).to(u.dtype)
    return torch.cat([angle[:, None], shift, scale[:, None], flip[:, None]], dim=1)


def sampling_matrices(params: torch.Tensor, side: int) -> torch.Tensor:
    """[N, 2, 3]: for each output pixel (normalised coordinates) the input point it reads: the
    inverse of rotate-scale-shift, after the flip."""
    angle, shift, scale, flip = params[:, 0], params[:, 1:3] * 2 / side, params[:, 3], params[:, 4]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    inverse = torch.stack([torch.stack([cos, sin], 1), torch.stack([-sin, cos], 1)], 1)  # [N, 2, 2]
    offset = -(inverse @ shift[:, :, None])  # [N, 2, 1]
    mirror = torch.ones_like(inverse)
    mirror[:, :, 0] = 1 - 2 * flip[:, None]  # x -> -x before the inverse map
    return torch.cat([inverse * mirror, offset], dim=2)


def augment(slices: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """[B, C, S, S] slices, each moved by its own random affine map and flip."""
    side = slices.shape[-1]
    params = affine_parameters(len(slices), side, generator, slices.device)
    theta = sampling_matrices(params, side).to(slices.dtype)
    grid = F.affine_grid(theta, list(slices.shape), align_corners=False)
    return F.grid_sample(slices, grid, mode="nearest", padding_mode="zeros", align_corners=False)

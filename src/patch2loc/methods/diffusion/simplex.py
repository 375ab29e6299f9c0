"""Simplex noise, the diffusion models' corruption (Behrendt et al.; from AnoDDPM, Wyatt et al. 2022).

The reference draws 2D OpenSimplex noise (Kurt Spencer's 2014 algorithm, the `opensimplex`
package's `noise2`) on the slice's pixel grid in 6 octaves: octave k samples the noise at pixel
coordinates / (64 / 2^k) with amplitude 0.8^k, and the octaves are summed (no renormalisation, so
the field's spread is what those numbers give). Every call draws a new permutation table, i.e. a
new field. This module implements the same algorithm, vectorised in torch over the whole grid so it
runs on the training device: for each point, the stretched (skewed) lattice cell, the three or four
lattice vertices within reach, a kernel (2 - d^2)^4 times the dot product of the offset with one of
8 gradients picked by hashing the vertex through the permutation table, summed, divided by 47.
Written for this project from the algorithm's description; no code was copied.
"""

from __future__ import annotations

import math

import torch

STRETCH = (1 / math.sqrt(3) - 1) / 2  # -0.2113: input space -> skewed lattice
SQUISH = (math.sqrt(3) - 1) / 2  # 0.3660: skewed lattice -> input space
NORM = 47.0  # scales one octave to about [-1, 1]
# 8 gradients, the vertices of an octagon (x, y)
GRADIENTS = torch.tensor([[5, 2], [2, 5], [-5, 2], [-2, 5], [5, -2], [2, -5], [-5, -2], [-2, -5]], dtype=torch.float32)


def _contribution(perm: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor):
    """Kernel-weighted gradient dot product of lattice vertices (xs, ys) at offsets (dx, dy)."""
    attn = (2 - dx * dx - dy * dy).clamp(min=0)
    index = (perm[(perm[xs & 255] + ys) & 255] >> 1) & 7  # bits 1-3 of the hash pick the gradient
    g = GRADIENTS.to(dx.device)[index]
    return attn**4 * (g[..., 0] * dx + g[..., 1] * dy)


def opensimplex2d(x: torch.Tensor, y: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    """One octave of 2D OpenSimplex noise at points (x, y) (same shape), for permutation `perm` [256]."""
    offset = (x + y) * STRETCH
    xs, ys = x + offset, y + offset
    xsb, ysb = torch.floor(xs), torch.floor(ys)
    squish = (xsb + ysb) * SQUISH
    xins, yins = xs - xsb, ys - ysb
    in_sum = xins + yins
    dx0, dy0 = x - (xsb + squish), y - (ysb + squish)
    xsb, ysb = xsb.long(), ysb.long()

    # the two vertices (1, 0) and (0, 1) of the cell always contribute
    value = _contribution(perm, xsb + 1, ysb, dx0 - 1 - SQUISH, dy0 - SQUISH)
    value = value + _contribution(perm, xsb, ysb + 1, dx0 - SQUISH, dy0 - 1 - SQUISH)

    lower = in_sum <= 1  # the point lies in the triangle at (0, 0), else in the one at (1, 1)
    x_gt_y = xins > yins
    # lower triangle: the extra vertex is (1, -1) / (-1, 1) when (0, 0) is not the closest, else (1, 1)
    zins = 1 - in_sum
    far = (zins > xins) | (zins > yins)
    ex_l = torch.where(far, torch.where(x_gt_y, xsb + 1, xsb - 1), xsb + 1)
    ey_l = torch.where(far, torch.where(x_gt_y, ysb - 1, ysb + 1), ysb + 1)
    edx_l = torch.where(far, torch.where(x_gt_y, dx0 - 1, dx0 + 1), dx0 - 1 - 2 * SQUISH)
    edy_l = torch.where(far, torch.where(x_gt_y, dy0 + 1, dy0 - 1), dy0 - 1 - 2 * SQUISH)
    # upper triangle: the extra vertex is (2, 0) / (0, 2) when (1, 1) is not the closest, else (0, 0)
    zins_u = 2 - in_sum
    far_u = (zins_u < xins) | (zins_u < yins)
    ex_u = torch.where(far_u, torch.where(x_gt_y, xsb + 2, xsb), xsb)
    ey_u = torch.where(far_u, torch.where(x_gt_y, ysb, ysb + 2), ysb)
    edx_u = torch.where(far_u, torch.where(x_gt_y, dx0 - 2 - 2 * SQUISH, dx0 - 2 * SQUISH), dx0)
    edy_u = torch.where(far_u, torch.where(x_gt_y, dy0 - 2 * SQUISH, dy0 - 2 - 2 * SQUISH), dy0)

    # the cell's own base vertex: (0, 0) in the lower triangle, (1, 1) in the upper one
    bx = torch.where(lower, xsb, xsb + 1)
    by = torch.where(lower, ysb, ysb + 1)
    bdx = torch.where(lower, dx0, dx0 - 1 - 2 * SQUISH)
    bdy = torch.where(lower, dy0, dy0 - 1 - 2 * SQUISH)
    value = value + _contribution(perm, bx, by, bdx, bdy)
    value = value + _contribution(
        perm,
        torch.where(lower, ex_l, ex_u),
        torch.where(lower, ey_l, ey_u),
        torch.where(lower, edx_l, edx_u),
        torch.where(lower, edy_l, edy_u),
    )
    return value / NORM


def simplex_noise(
    batch: int,
    height: int,
    width: int,
    generator: torch.Generator,
    *,
    octaves: int = 6,
    persistence: float = 0.8,
    frequency: float = 64.0,
    per_slice: bool = False,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Fractal simplex noise [batch, 1, height, width]: `octaves` octaves, the first sampled at pixel
    / `frequency`, each next at twice the spatial frequency and `persistence` times the amplitude.
    One field shared by the whole batch (the reference's choice), or one per slice (`per_slice`)."""
    device = torch.device(device or generator.device)
    fields = batch if per_slice else 1
    rows = torch.arange(height, device=device, dtype=torch.float32).view(1, -1, 1)
    cols = torch.arange(width, device=device, dtype=torch.float32).view(1, 1, -1)
    out = torch.zeros((fields, height, width), device=device)
    for i in range(fields):
        perm = torch.randperm(256, generator=generator, device=generator.device).to(device)
        amplitude, wavelength = 1.0, float(frequency)
        for _ in range(octaves):
            out[i] += amplitude * opensimplex2d(cols / wavelength, rows / wavelength, perm)[0]
            wavelength /= 2
            amplitude *= persistence
    out = out.unsqueeze(1)
    return out if per_slice else out.expand(batch, 1, height, width).contiguous()

"""Coarse noise, the DAE's corruption (Kascenas et al., MIDL 2022).

Gaussian values (std `std`) on a coarse grid of `cells` x `cells` nodes are bilinearly upsampled
to the slice (corner nodes on the corner pixels), so neighbouring nodes lie about `cell_mm` apart;
the field is then rolled by a random offset along both axes (one offset per batch, as in the
reference) so the nodes do not always fall on the same pixels, and set to zero outside the
foreground (the brain mask). The reference draws 16 x 16 nodes on a 128-pixel slice of 1.875 mm
pixels (BraTS' 240 mm resized): about 15.9 mm between nodes. We keep the distance, in mm.

Several contrasts: the reference draws its coarse grid as [batch, channels, 16, 16], so each
contrast gets its own independent noise (AntanasKascenas/DenoisingAE src/denoising.py l. 25), then
rolls the whole tensor by one offset (l. 30-32) and keeps one foreground for every contrast (the
channel sum, l. 34-35); here the foreground is the brain mask, shared by the contrasts.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def noise_cells(side: int, spacing_mm: float, cell_mm: float) -> int:
    """Grid nodes along a slice side of `side` pixels so that nodes lie about `cell_mm` apart."""
    return max(2, round((side - 1) * spacing_mm / cell_mm) + 1)


def node_spacing(side: int, cells: int) -> float:
    """Pixels between neighbouring grid nodes (bilinear upsampling with aligned corners)."""
    return (side - 1) / (cells - 1)


def coarse_noise(
    foreground: torch.Tensor,
    cells: tuple[int, int],
    std: float,
    generator: torch.Generator,
    roll: bool = True,
    channels: int = 1,
) -> torch.Tensor:
    """Noise for a batch of slices [B, channels, H, W], independent per channel, zero wherever
    `foreground` ([B, 1, H, W]) is False. One channel draws exactly what it always drew."""
    batch, _, height, width = foreground.shape
    device = foreground.device
    grid = torch.randn((batch, channels, *cells), generator=generator, device=device) * std
    field = F.interpolate(grid, size=(height, width), mode="bilinear", align_corners=True)
    if roll:
        shift = torch.randint(0, height * width, (1,), generator=generator, device=device).item()
        field = torch.roll(field, shifts=(shift // width, shift % width), dims=(-2, -1))
    return field * foreground

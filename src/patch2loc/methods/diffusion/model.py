"""One diffusion model of the three (DDPM, pDDPM, cDDPM): the UNet, the schedule, the slice grid and,
for the cDDPM, the condition encoder; `reconstruct` is what training and scoring share.

Slices are reconstructed on the model's grid: the volume's axial slices averaged over `rescale` x
`rescale` pixels (the reference resamples its 1 mm volumes to 2 mm: 96 x 96 slices). pDDPM noises
one square of a fixed grid at a time (`patch_size` pixels on the model's grid, stride = patch size,
squares at the border cut by the slice's edge, as the reference's grid) and keeps the rest of the
slice clean as context; its output outside the square is the input itself (the reference's
"inpaint"), so the stitched squares form the reconstruction.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from patch2loc.methods.diffusion.encoder import ConditionEncoder
from patch2loc.methods.diffusion.schedule import cosine_alpha_bar, from_model_range, noised, to_model_range
from patch2loc.methods.diffusion.simplex import simplex_noise
from patch2loc.methods.diffusion.unet import DiffusionUNet

# The settings that fix the network (recorded in each checkpoint's config; `load` rebuilds from them).
ARCHITECTURE = ("width", "mults", "blocks", "dropout", "timesteps", "encoder", "patch_size", "rescale")


class DiffusionModel(nn.Module):
    def __init__(
        self,
        width: int = 128,
        mults=(1, 2, 2),
        blocks: int = 3,
        dropout: float = 0.0,
        timesteps: int = 1000,
        encoder: str | None = None,
        patch_size: int | None = None,
        rescale: int = 1,
    ):
        super().__init__()
        self.encoder = ConditionEncoder(encoder, 4 * width) if encoder else None
        self.unet = DiffusionUNet(width, tuple(mults), blocks, cond_dim=4 * width if encoder else None, dropout=dropout)
        self.patch_size, self.rescale = patch_size, rescale
        self.register_buffer("alpha_bar", cosine_alpha_bar(timesteps), persistent=False)

    @property
    def timesteps(self) -> int:
        return len(self.alpha_bar)

    def condition(self, clean: torch.Tensor) -> torch.Tensor | None:
        """The cDDPM's condition vector of clean slices on the [0, 1] scale (None for the others)."""
        return self.encoder(clean) if self.encoder is not None else None

    def boxes(self, height: int, width: int) -> list[tuple[int, int, int, int]]:
        """pDDPM's fixed grid of squares (row0, row1, col0, col1), row by row, cut at the border."""
        p = self.patch_size
        return [(r, min(r + p, height), c, min(c + p, width)) for r in range(0, height, p) for c in range(0, width, p)]

    def predict(
        self,
        clean: torch.Tensor,
        t: torch.Tensor,
        noise: torch.Tensor,
        box: torch.Tensor | None = None,
        cond: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x0 predicted from clean slices [B, 1, H, W] ([0, 1] scale) noised to steps t [B] with `noise`
        (model range); with `box` [B, H, W] (bool) only the box is noised and only it is predicted,
        the rest is the clean input. Returned on the [0, 1] scale."""
        x0 = to_model_range(clean)
        xt = noised(x0, t, noise, self.alpha_bar)
        if box is not None:
            xt = torch.where(box[:, None], xt, x0)
        out = self.unet(xt, t, cond).float()
        if box is not None:
            out = torch.where(box[:, None], out, x0)
        return from_model_range(out)


def box_masks(model: DiffusionModel, index: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """[B, H, W] bool: the grid square `index[b]` of each slice."""
    boxes = model.boxes(height, width)
    out = torch.zeros((len(index), height, width), dtype=torch.bool, device=index.device)
    for b, k in enumerate(index.tolist()):
        r0, r1, c0, c1 = boxes[k]
        out[b, r0:r1, c0:c1] = True
    return out


def downsample(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Slices [B, 1, H, W] to the model's grid: the mean of factor x factor pixels (sides padded with zeros)."""
    if factor == 1:
        return x
    h, w = x.shape[-2:]
    return F.avg_pool2d(F.pad(x, (0, -w % factor, 0, -h % factor)), factor)


def upsample(x: torch.Tensor, size: tuple[int, int], factor: int) -> torch.Tensor:
    """The model grid's maps back to the slice's grid (bilinear), cropped to `size`."""
    if factor == 1:
        return x
    up = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    return up[..., : size[0], : size[1]]


@torch.no_grad()
def reconstruct(
    model: DiffusionModel,
    clean: torch.Tensor,
    steps: tuple[int, ...],
    generator: torch.Generator,
    octaves: int,
    persistence: float,
    frequency: float,
) -> torch.Tensor:
    """The reconstruction [B, 1, h, w] of clean slices on the model's grid: x0 predicted from the
    slices noised to each test step (one simplex field per step, shared by the slices, as the
    reference draws one per volume), averaged over the steps (cDDPM: 250, 500, 750); pDDPM predicts
    each grid square from its noised self and the clean rest, and the squares are stitched."""
    b, _, h, w = clean.shape
    cond = model.condition(clean)
    total = torch.zeros_like(clean)
    for step in steps:
        noise = simplex_noise(
            b, h, w, generator, octaves=octaves, persistence=persistence, frequency=frequency, device=clean.device
        )
        t = torch.full((b,), step - 1, device=clean.device, dtype=torch.long)  # step 500 is index 499
        if model.patch_size is None:
            total += model.predict(clean, t, noise, cond=cond)
            continue
        for k, (r0, r1, c0, c1) in enumerate(model.boxes(h, w)):
            box = box_masks(model, torch.full((b,), k, device=clean.device), h, w)
            total[..., r0:r1, c0:c1] += model.predict(clean, t, noise, box, cond)[..., r0:r1, c0:c1]
    return total / len(steps)

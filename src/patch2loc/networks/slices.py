"""Scoring a volume slice by slice, as the slice models (DAE, AE/VAE, the diffusion models, RA,
PHANES, FAE) do: the brain's axial slices in batches through a residual function (on the model's
own grid where it has one), the map put back together (one place, so the models cannot differ in how
a volume is cut, resized and reassembled)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from patch2loc.networks.rebuild import prepare_scoring


def brain_slice_batches(mask: np.ndarray, batch: int):
    """The indices of the axial slices of `mask` [..., X, Y, Z] that hold brain, `batch` at a time."""
    slices = np.flatnonzero(mask.any(axis=(-3, -2)))
    for start in range(0, len(slices), batch):
        yield slices[start : start + batch]


def residual_map(
    volume: np.ndarray,
    brain_mask: np.ndarray,
    device: torch.device,
    batch: int,
    residual: Callable,
    with_mask: bool = False,
) -> np.ndarray:
    """float32 [X, Y, Z]: `residual(slices)` of the masked volume's axial slices that hold brain,
    `batch` at a time (slices [B, 1, X, Y] on `device` -> |x - reconstruction| of the same shape),
    0 on the other slices and outside the mask. `with_mask`: `residual(slices, brain)`, brain the
    slices' mask (float32 0/1, the same shape), for a method that needs it (PHANES)."""
    mask = np.asarray(brain_mask) > 0
    clean = np.asarray(volume, np.float32) * mask
    out = np.zeros_like(clean)
    for z in brain_slice_batches(mask, batch):
        full = torch.from_numpy(np.ascontiguousarray(clean[:, :, z].transpose(2, 0, 1))).unsqueeze(1).to(device)
        if with_mask:
            inside = torch.from_numpy(np.ascontiguousarray(mask[:, :, z].transpose(2, 0, 1))).unsqueeze(1)
            result = residual(full, inside.to(device, torch.float32))
        else:
            result = residual(full)
        out[:, :, z] = result.squeeze(1).cpu().numpy().transpose(1, 2, 0)
    return (out * mask).astype(np.float32)


def to_grid(slices: torch.Tensor, side: tuple[int, int]) -> torch.Tensor:
    """[B, 1, h, w] slices resized to `side` (bilinear, as the reference's cv2.resize); unchanged when equal."""
    if tuple(slices.shape[-2:]) == tuple(side):
        return slices
    return F.interpolate(slices, size=side, mode="bilinear", align_corners=False)


@torch.inference_mode()
def grid_map(
    model,
    volume: np.ndarray,
    brain_mask: np.ndarray,
    device,
    batch: int,
    on_grid: Callable,
    with_mask: bool = False,
    what: str = "the model",
) -> np.ndarray:
    """float32 [X, Y, Z]: `residual_map` of a model that scores slices on its own `model.size` square
    grid. The model in eval mode on `device` with its seeded generator (`prepare_scoring`); each batch
    of slices resized to that grid, `on_grid(model, x, generator, brain)` maps them there (brain: the
    slices' mask on that grid with `with_mask`, else None), and the map is resized back to the slice's.
    `what`: the model as a volume of another grid's refusal names it."""
    model, device, generator = prepare_scoring(model, volume, device, what)
    grid = (model.size, model.size)

    def residual(full: torch.Tensor, brain: torch.Tensor | None = None) -> torch.Tensor:
        inside = None if brain is None else to_grid(brain, grid)
        return to_grid(on_grid(model, to_grid(full, grid), generator, inside), tuple(full.shape[-2:]))

    return residual_map(volume, brain_mask, device, batch, residual, with_mask)


def slice_batch_bytes(config: dict, slices: int, per_model_pixel: int, per_slice_pixel: int) -> int:
    """What `slices` slices hold at once while a network of `config` (size, volume_shape) scores them:
    `per_model_pixel` bytes per pixel of the model's size x size grid, `per_slice_pixel` per pixel of
    the volume's own slice (the slice, its mask, the map resized back)."""
    grid = config.get("volume_shape") or (0, 0, 0)
    side = int(config["size"])
    return slices * (side * side * per_model_pixel + grid[0] * grid[1] * per_slice_pixel)

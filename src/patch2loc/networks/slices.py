"""Scoring a volume slice by slice, as the slice models (AE/VAE, the diffusion models) do: the
brain's axial slices in batches through a residual function, the map put back together (one
place, so the models cannot differ in how a volume is cut and reassembled)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch


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
    slices = np.flatnonzero(mask.any(axis=(0, 1)))
    for start in range(0, len(slices), batch):
        z = slices[start : start + batch]
        full = torch.from_numpy(np.ascontiguousarray(clean[:, :, z].transpose(2, 0, 1))).unsqueeze(1).to(device)
        if with_mask:
            inside = torch.from_numpy(np.ascontiguousarray(mask[:, :, z].transpose(2, 0, 1))).unsqueeze(1)
            result = residual(full, inside.to(device, torch.float32))
        else:
            result = residual(full)
        out[:, :, z] = result.squeeze(1).cpu().numpy().transpose(1, 2, 0)
    return (out * mask).astype(np.float32)


def slice_batch_bytes(config: dict, slices: int, per_model_pixel: int, per_slice_pixel: int) -> int:
    """What `slices` slices hold at once while a network of `config` (size, volume_shape) scores them:
    `per_model_pixel` bytes per pixel of the model's size x size grid, `per_slice_pixel` per pixel of
    the volume's own slice (the slice, its mask, the map resized back)."""
    grid = config.get("volume_shape") or (0, 0, 0)
    side = int(config["size"])
    return slices * (side * side * per_model_pixel + grid[0] * grid[1] * per_slice_pixel)

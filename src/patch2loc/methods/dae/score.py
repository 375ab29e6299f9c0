"""DAE anomaly map of a normalised volume: |x - reconstruction| inside the brain mask.

Every axial slice that holds brain is reconstructed from the clean (masked) slice in batches; the
score is the absolute reconstruction error inside the mask, 0 elsewhere. The shared
post-processing (median filter, mask) and the metrics come after, as for every method.
"""

from __future__ import annotations

import numpy as np
import torch

from patch2loc.errors import InputError
from patch2loc.methods.dae.model import DenoisingUNet
from patch2loc.methods.dae.train import RANGES
from patch2loc.methods.rebuild import Bounds, check_grid, load_network
from patch2loc.ranges import check_block

SLICES_PER_BATCH = 16


def _check(config: dict, where: str) -> None:
    missing = [k for k in RANGES if k not in config]
    if missing:
        raise InputError(f"{where}: config has no {', '.join(missing)} (a DAE checkpoint records them).")
    check_block(config, RANGES, "config", where)


# Before the network is built: its settings in range, then its weights within the memory budget.
# (Scoring's activations are the scan budget's: method.activation_bytes, predict/budget.py.)
BOUNDS = Bounds(_check, "config width, depth")


def load_model(checkpoint: str, device: str | torch.device = "cpu") -> tuple[DenoisingUNet, dict]:
    """Rebuild the DAE from a checkpoint; returns (model in eval mode, checkpoint dict)."""
    return load_network(checkpoint, "DAE", lambda c: DenoisingUNet(width=c["width"], depth=c["depth"]), device, BOUNDS)


@torch.inference_mode()
def reconstruct(
    model: DenoisingUNet, volume: np.ndarray, brain_mask: np.ndarray, device: str | torch.device | None = None
) -> np.ndarray:
    """The DAE's reconstruction [X, Y, Z] of the masked volume (0 on slices without brain)."""
    device = torch.device(device or next(model.parameters()).device)
    model = model.to(device).eval()
    brain_mask = np.asarray(brain_mask) > 0
    clean = np.asarray(volume, np.float32) * brain_mask
    out = np.zeros_like(clean)
    slices = np.flatnonzero(brain_mask.any(axis=(0, 1)))
    for start in range(0, len(slices), SLICES_PER_BATCH):
        z = slices[start : start + SLICES_PER_BATCH]
        batch = torch.from_numpy(np.ascontiguousarray(clean[:, :, z].transpose(2, 0, 1))).unsqueeze(1).to(device)
        out[:, :, z] = model(batch).float().squeeze(1).cpu().numpy().transpose(1, 2, 0)
    return out


def anomaly_map(
    model: DenoisingUNet, volume: np.ndarray, brain_mask: np.ndarray, device: str | torch.device | None = None
) -> np.ndarray:
    """|x - reconstruction| inside the brain mask, 0 outside; float32 [X, Y, Z]."""
    check_grid(model, volume, "the DAE")
    mask = np.asarray(brain_mask) > 0
    clean = np.asarray(volume, np.float32) * mask
    return (np.abs(clean - reconstruct(model, clean, mask, device)) * mask).astype(np.float32)

"""DAE anomaly map of a normalised volume: |x - reconstruction| inside the brain mask.

Every axial slice that holds brain is reconstructed from the clean (masked) slice in batches; the
score is the absolute reconstruction error inside the mask, 0 elsewhere. The shared
post-processing (median filter, mask) and the metrics come after, as for every method.
"""
from __future__ import annotations

import numpy as np
import torch

from patch2loc.checkpoint import checkpoint_grid, read_checkpoint
from patch2loc.io import InputError
from patch2loc.methods.dae.model import DenoisingUNet

SLICES_PER_BATCH = 16


def load_model(checkpoint: str, device: str | torch.device = "cpu") -> tuple[DenoisingUNet, dict]:
    """Rebuild the DAE from a checkpoint read with `read_checkpoint` (no code from it runs);
    returns (model in eval mode, checkpoint dict)."""
    ckpt = read_checkpoint(checkpoint, fix="Pass a best.pt or last.pt written by the DAE's training.",
                           method="DAE")
    config = ckpt.get("config") or {}
    try:
        model = DenoisingUNet(width=int(config["width"]), depth=int(config["depth"]))
        model.load_state_dict(ckpt["model"])
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise InputError(f"{checkpoint}: not a usable DAE checkpoint (its weights or settings do not fit the "
                         f"network: {first}). Pass a best.pt or last.pt written by the DAE's training.") from None
    model.volume_shape = checkpoint_grid(ckpt)
    return model.to(device).eval(), ckpt


@torch.inference_mode()
def reconstruct(model: DenoisingUNet, volume: np.ndarray, brain_mask: np.ndarray,
                device: str | torch.device | None = None) -> np.ndarray:
    """The DAE's reconstruction [X, Y, Z] of the masked volume (0 on slices without brain)."""
    device = torch.device(device or next(model.parameters()).device)
    model = model.to(device).eval()
    brain_mask = np.asarray(brain_mask) > 0
    clean = np.asarray(volume, np.float32) * brain_mask
    out = np.zeros_like(clean)
    slices = np.flatnonzero(brain_mask.any(axis=(0, 1)))
    for start in range(0, len(slices), SLICES_PER_BATCH):
        z = slices[start:start + SLICES_PER_BATCH]
        batch = torch.from_numpy(np.ascontiguousarray(clean[:, :, z].transpose(2, 0, 1))).unsqueeze(1).to(device)
        out[:, :, z] = model(batch).float().squeeze(1).cpu().numpy().transpose(1, 2, 0)
    return out


def anomaly_map(model: DenoisingUNet, volume: np.ndarray, brain_mask: np.ndarray,
                device: str | torch.device | None = None) -> np.ndarray:
    """|x - reconstruction| inside the brain mask, 0 outside; float32 [X, Y, Z]."""
    grid = getattr(model, "volume_shape", None)
    if grid is not None and tuple(grid) != tuple(np.shape(volume)):
        raise InputError(f"volume of shape {np.shape(volume)} but the DAE was trained on {tuple(grid)}; "
                         "preprocess the scan with the run's settings (crop/pad).")
    mask = np.asarray(brain_mask) > 0
    clean = np.asarray(volume, np.float32) * mask
    return (np.abs(clean - reconstruct(model, clean, mask, device)) * mask).astype(np.float32)

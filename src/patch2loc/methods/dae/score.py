"""DAE anomaly map of a normalised volume: |x - reconstruction| inside the brain mask.

Every axial slice that holds brain is reconstructed from the clean (masked) slice in batches; the
score is the absolute reconstruction error inside the mask, 0 elsewhere. The shared
post-processing (median filter, mask) and the metrics come after, as for every method.
A model of C contrasts scores a scan [C, X, Y, Z]: the error is averaged over the contrasts, as the
reference's (AntanasKascenas/DenoisingAE @8e5a9df src/denoising.py l. 53).
"""

from __future__ import annotations

import numpy as np
import torch

from patch2loc.errors import InputError
from patch2loc.methods.dae.model import DenoisingUNet
from patch2loc.methods.dae.train import RANGES
from patch2loc.networks.rebuild import check_config, Bounds, check_grid, load_network
from patch2loc.networks.slices import brain_slice_batches

SLICES_PER_BATCH = 16


def _check(config: dict, where: str) -> None:
    check_config(config, where, "a DAE", RANGES)  # config.channels: read_checkpoint bounds it


# Before the network is built: its settings in range, then its weights within the memory budget.
# (Scoring's activations are the scan budget's: method.activation_bytes, predict/budget.py.)
BOUNDS = Bounds(_check, "config width, depth")


def load_model(checkpoint: str, device: str | torch.device = "cpu") -> tuple[DenoisingUNet, dict]:
    """Rebuild the DAE from a checkpoint; returns (model in eval mode, checkpoint dict)."""
    return load_network(checkpoint, "DAE", build_network, device, BOUNDS)


def build_network(config: dict) -> DenoisingUNet:
    return DenoisingUNet(width=config["width"], depth=config["depth"], channels=config["channels"])


def as_channels(volume: np.ndarray, model: DenoisingUNet) -> np.ndarray:
    """A scan as [C, X, Y, Z] (a 3D volume is one contrast); one line when C is not the model's."""
    volume = np.asarray(volume)
    volume = volume[None] if volume.ndim == 3 else volume
    trained = getattr(model, "channels", 1)
    if volume.ndim != 4 or volume.shape[0] != trained:
        raise InputError(
            f"image: {volume.shape[0] if volume.ndim == 4 else 'no'} contrast(s) given (shape {volume.shape}), "
            f"but the DAE was trained on {trained}. Give the scan in each of the model's contrasts "
            "(the checkpoint's config channels)."
        )
    return volume


@torch.inference_mode()
def reconstruct(
    model: DenoisingUNet, volume: np.ndarray, brain_mask: np.ndarray, device: str | torch.device | None = None
) -> np.ndarray:
    """The DAE's reconstruction of the masked volume, [X, Y, Z] or [C, X, Y, Z] as the volume
    (0 on slices without brain)."""
    if np.ndim(volume) == 3:
        return reconstruct(model, np.asarray(volume)[None], brain_mask, device)[0]
    device = torch.device(device or next(model.parameters()).device)
    model = model.to(device).eval()
    brain_mask = np.asarray(brain_mask) > 0
    clean = np.asarray(volume, np.float32) * brain_mask
    out = np.zeros_like(clean)
    for z in brain_slice_batches(brain_mask, SLICES_PER_BATCH):
        batch = torch.from_numpy(np.ascontiguousarray(clean[..., z].transpose(3, 0, 1, 2))).to(device)
        out[..., z] = model(batch).float().cpu().numpy().transpose(1, 2, 3, 0)
    return out


def anomaly_map(
    model: DenoisingUNet, volume: np.ndarray, brain_mask: np.ndarray, device: str | torch.device | None = None
) -> np.ndarray:
    """|x - reconstruction| inside the brain mask (the mean over contrasts), 0 outside; float32
    [X, Y, Z]. `volume` is [X, Y, Z], or [C, X, Y, Z] for a model of C contrasts."""
    volume = as_channels(volume, model)
    check_grid(model, volume[0], "the DAE")
    mask = np.asarray(brain_mask) > 0
    clean = np.asarray(volume, np.float32) * mask
    error = np.abs(clean - reconstruct(model, clean, mask, device)) * mask
    return (error[0] if len(error) == 1 else error.mean(axis=0)).astype(np.float32)

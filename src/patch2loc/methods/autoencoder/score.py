"""The AE's or VAE's anomaly map of a normalised volume: the residual |x - reconstruction| in the brain.

Every axial slice that holds brain is masked, resized to the model's grid, reconstructed, and the
residual on that grid (the reference's |x - x_hat|, trainers/AE.py:107) is resized back to the
slice (bilinear) and set to 0 outside the mask. The VAE decodes a sample of its code, as the
reference's graph does at test time too (models/variational_autoencoder.py:34); the sample is drawn
from a generator seeded with the model's seed for each volume, so a volume's map is the same
wherever it is scored. The shared post-processing (median filter, mask) and the metrics come after.
"""

from __future__ import annotations

import numpy as np
import torch

from patch2loc.methods.autoencoder.model import DenseAutoencoder
from patch2loc.methods.autoencoder.train import ARCHITECTURE, check_architecture, to_grid
from patch2loc.methods.rebuild import check_grid, load_network

SLICES_PER_BATCH = 32
ACTIVATION = 512  # bytes per pixel of the model's grid one slice holds in the forward pass (32 channels, 4 copies)


def _network(config: dict) -> DenseAutoencoder:
    arch = {k: config[k] for k in ARCHITECTURE}
    check_architecture(arch, "its settings")  # before anything is allocated
    model = DenseAutoencoder(**arch)
    model.seed = int(config["seed"])  # the VAE's code samples at scoring
    return model


def load_model(checkpoint: str, device: str | torch.device = "cpu", method: str = "AE"):
    """Rebuild the AE or VAE from a checkpoint; returns (model in eval mode, checkpoint dict)."""
    return load_network(checkpoint, method, _network, device)


@torch.inference_mode()
def anomaly_map(
    model: DenseAutoencoder, volume: np.ndarray, brain_mask: np.ndarray, device: str | torch.device | None = None
) -> np.ndarray:
    """|x - reconstruction| inside the brain mask, 0 outside; float32 [X, Y, Z]."""
    check_grid(model, volume, "the model")
    device = torch.device(device or next(model.parameters()).device)
    model = model.to(device).eval()
    mask = np.asarray(brain_mask) > 0
    clean = np.asarray(volume, np.float32) * mask
    out = np.zeros_like(clean)
    slices = np.flatnonzero(mask.any(axis=(0, 1)))
    generator = torch.Generator(device).manual_seed(getattr(model, "seed", 0))
    grid = (model.size, model.size)
    for start in range(0, len(slices), SLICES_PER_BATCH):
        z = slices[start : start + SLICES_PER_BATCH]
        full = torch.from_numpy(np.ascontiguousarray(clean[:, :, z].transpose(2, 0, 1))).unsqueeze(1).to(device)
        small = to_grid(full, grid)
        residual = (small - model(small, generator)[0].float()).abs()
        out[:, :, z] = to_grid(residual, tuple(full.shape[-2:])).squeeze(1).cpu().numpy().transpose(1, 2, 0)
    return (out * mask).astype(np.float32)

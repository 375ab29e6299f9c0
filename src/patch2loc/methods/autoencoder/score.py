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
from patch2loc.methods.slices import residual_map

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
    generator = torch.Generator(device).manual_seed(getattr(model, "seed", 0))
    grid = (model.size, model.size)

    def residual(full: torch.Tensor) -> torch.Tensor:
        small = to_grid(full, grid)  # the model's grid, and the residual back to the slice's
        return to_grid((small - model(small, generator)[0].float()).abs(), tuple(full.shape[-2:]))

    return residual_map(volume, brain_mask, device, SLICES_PER_BATCH, residual)

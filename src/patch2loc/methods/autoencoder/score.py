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

from patch2loc.errors import InputError
from patch2loc.methods.autoencoder.model import DenseAutoencoder
from patch2loc.methods.autoencoder.train import ARCHITECTURE, RANGES, VAE_RANGES, check_architecture
from patch2loc.networks.rebuild import check_config, Bounds, load_network
from patch2loc.networks.slices import grid_map, slice_batch_bytes

SLICES_PER_BATCH = 32
# Bytes per pixel of the model's grid, per filter of the first convolution, one slice holds in the
# forward pass (512 measured for the paper's 32 filters: their outputs, 4 copies); per pixel of the
# volume's own slice, 16 (the slice, its mask, the residual resized back).
PER_FILTER, PER_SLICE_PIXEL = 16, 16


def batch_bytes(config: dict) -> int:
    """What one batch of slices holds while the network of `config` (size, width, volume_shape) runs."""
    return slice_batch_bytes(config, SLICES_PER_BATCH, PER_FILTER * int(config["width"]), PER_SLICE_PIXEL)


def _check(config: dict, where: str) -> None:
    """A checkpoint's settings: present, in range (train.RANGES, the VAE's kl_weight too), and a network
    this code builds; before anything is allocated."""
    if type(config.get("variational")) is not bool:
        raise InputError(f"{where}: config.variational {str(config.get('variational'))[:20]} must be true or false.")
    rules = VAE_RANGES if config["variational"] else RANGES
    check_config(config, where, "an AE or VAE", rules, ("dropout",), ARCHITECTURE, check_architecture)


# Before the network is built: its settings, its weights and, on the CPU, a batch of slices at its own
# size and width within the memory budget (a size of 1024 held 17 GB on a 32 x 32 grid, never counted).
BOUNDS = Bounds(_check, "config size, width, bottleneck, latent", batch_bytes, "config size, width, volume_shape")


def build_network(config: dict) -> DenseAutoencoder:
    model = DenseAutoencoder(**{k: config[k] for k in ARCHITECTURE})
    model.seed = int(config["seed"])  # the VAE's code samples at scoring
    return model


def load_model(checkpoint: str, device: str | torch.device = "cpu", method: str = "AE"):
    """Rebuild the AE or VAE from a checkpoint; returns (model in eval mode, checkpoint dict)."""
    return load_network(checkpoint, method, build_network, device, BOUNDS)


def _residual(model: DenseAutoencoder, x: torch.Tensor, generator: torch.Generator, brain: None) -> torch.Tensor:
    """|x - reconstruction| on the model's grid (the VAE decodes a seeded sample of its code)."""
    return (x - model(x, generator)[0].float()).abs()


def anomaly_map(
    model: DenseAutoencoder, volume: np.ndarray, brain_mask: np.ndarray, device: str | torch.device | None = None
) -> np.ndarray:
    """|x - reconstruction| inside the brain mask, 0 outside; float32 [X, Y, Z]."""
    return grid_map(model, volume, brain_mask, device, SLICES_PER_BATCH, _residual)

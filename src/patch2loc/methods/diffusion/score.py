"""Anomaly map of a normalised volume with a diffusion model: |x - reconstruction| in the brain.

Every axial slice that holds brain is masked, averaged down to the model's grid, reconstructed
(`model.reconstruct`: x0 predicted at the test step(s), pDDPM square by square), and the residual
|x - reconstruction| (the reference's L1 residual, on the [0, 1] intensity scale) is brought back
to the volume's grid (bilinear) and set to 0 outside the mask. The noise is drawn from a generator
seeded with the model's seed for each volume, so a volume's map is the same wherever it is scored;
one field per test step for the whole volume, as the reference draws one for the volume's slices.
The shared post-processing (median filter, mask) and the metrics come after, as for every method.
"""

from __future__ import annotations

import numpy as np
import torch

from patch2loc.methods.diffusion import bounds
from patch2loc.methods.diffusion.bounds import SLICES_PER_BATCH
from patch2loc.methods.diffusion.model import DiffusionModel, downsample, reconstruct, upsample
from patch2loc.methods.diffusion.train import model_of
from patch2loc.networks.rebuild import Bounds, check_grid, load_network
from patch2loc.networks.slices import residual_map

# Checked before the network is built: every setting in range, then its memory (networks/rebuild.py).
BOUNDS = Bounds(
    bounds.check_checkpoint,
    "config width, mults, blocks, encoder, timesteps",
    lambda c: bounds.scoring_bytes(c, c["volume_shape"]) if c.get("volume_shape") else 0,
    "config volume_shape, rescale, width, mults, blocks",
)


def build_network(config: dict) -> DiffusionModel:
    model = model_of(config)
    model.scoring = {
        k: config[k] for k in ("test_steps", "noise_octaves", "noise_persistence", "noise_frequency_px", "seed")
    }  # what anomaly_map draws its noise with
    return model


def load_model(checkpoint: str, device: str | torch.device = "cpu", method: str = "DDPM"):
    """Rebuild a diffusion model from a checkpoint; returns (model in eval mode, checkpoint dict)."""
    return load_network(checkpoint, method, build_network, device, BOUNDS)


@torch.inference_mode()
def anomaly_map(
    model: DiffusionModel, volume: np.ndarray, brain_mask: np.ndarray, device: str | torch.device | None = None
) -> np.ndarray:
    """|x - reconstruction| inside the brain mask, 0 outside; float32 [X, Y, Z]."""
    check_grid(model, volume, "the model")
    device = torch.device(device or next(model.parameters()).device)
    model = model.to(device).eval()
    s = model.scoring
    generator = torch.Generator(device).manual_seed(int(s["seed"]))

    def residual(full: torch.Tensor) -> torch.Tensor:
        small = downsample(full, model.rescale)  # the model's grid, and the residual back to the slice's
        reco = reconstruct(
            model,
            small,
            tuple(s["test_steps"]),
            generator,
            int(s["noise_octaves"]),
            float(s["noise_persistence"]),
            float(s["noise_frequency_px"]),
        )
        return upsample((small - reco).abs(), tuple(full.shape[-2:]), model.rescale)

    return residual_map(volume, brain_mask, device, SLICES_PER_BATCH, residual)

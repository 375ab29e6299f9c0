"""PHANES' anomaly map of a normalised volume (Bercea et al., MICCAI 2023; docs/phanes.md).

Every axial slice that holds brain is masked, resized to the model's grid (bilinear, as RA's),
clipped to [0, 1] (ra/train.unit_range) and restored (restore.py): the coarse reconstruction from a
SAMPLED code, as the reference's evaluation calls the model with its default deterministic=False
(ci-ber/PHANES@c8995ed projects/phanes/DownstreamEvaluator.py l. 317; model_zoo/phanes.py l. 268-278),
from a generator seeded with the model's seed for each volume (the same map wherever it is scored on
one kind of device), set to 0 outside the brain mask as the slice is; the anomaly mask at each slice's own 95th percentile (`get_anomaly` passes no
threshold, phanes.py l. 299-300); the inpainting and composite. Map = |x - final| x saliency(final, x)
(l. 303-308); the offline variant's is |x - final| alone. The map is resized back to the slice
(bilinear) and set to 0 outside the brain mask (the reference has no brain mask: its map covers the
whole slice); the shared post-processing (median filter, mask) and the metrics come after.
"""

from __future__ import annotations

import numpy as np
import torch

from patch2loc.methods.phanes.model import PHANESModel
from patch2loc.methods.phanes.restore import phanes_map, restore
from patch2loc.methods.phanes.train import check_phanes_architecture
from patch2loc.methods.ra.score import config_check, network_of, reference_intensities
from patch2loc.methods.ra.train import unit_range
from patch2loc.networks.rebuild import Bounds, load_network
from patch2loc.networks.slices import grid_map, slice_batch_bytes

SLICES_PER_BATCH = 16
# Bytes per pixel of the model's grid one slice holds in the forward pass (an estimate, not measured):
# RA's per unit of width (ra/score.py), and the inpainter's: its 64-channel full-resolution layers and
# the 128-channel upsampled map with their activated copies, float32; per pixel of the volume's own
# slice, 16 (the slice, its mask, the map resized back).
PER_WIDTH, PER_INPAINT_PIXEL, PER_SLICE_PIXEL = 32, 2048, 16


def batch_bytes(config: dict) -> int:
    """What one batch of slices holds while the networks of `config` (size, width, volume_shape) run."""
    per_model_pixel = PER_WIDTH * int(config["width"]) + PER_INPAINT_PIXEL
    return slice_batch_bytes(config, SLICES_PER_BATCH, per_model_pixel, PER_SLICE_PIXEL)


BOUNDS = Bounds(
    config_check("a PHANES", check_phanes_architecture),
    "config size, width, zdim",
    batch_bytes,
    "config size, width, volume_shape",
)


build_network = network_of(PHANESModel)


def load_model(checkpoint: str, device: str | torch.device = "cpu", name: str = "PHANES"):
    """Rebuild PHANES' networks (and its LPIPS network, when it has one) from a checkpoint of method
    `name` (PHANES or its offline variant); (model in eval mode, checkpoint)."""
    return load_network(checkpoint, name, build_network, device, BOUNDS)


def _restored_map(model: PHANESModel, x: torch.Tensor, generator: torch.Generator, brain: torch.Tensor) -> torch.Tensor:
    """PHANES' map of slices on the model's grid: read in [0, 1], restored inside the brain."""
    x = unit_range(x)
    inside = (brain >= 0.5).float()  # the brain on the model's grid, as training's
    final = restore(model, x, generator, None, inside)[0]
    return phanes_map(model.perceptual, x, final)


def anomaly_map(
    model: PHANESModel, volume: np.ndarray, brain_mask: np.ndarray, device: str | torch.device | None = None
) -> np.ndarray:
    """PHANES' map inside the brain mask, 0 outside; float32 [X, Y, Z]."""
    volume = reference_intensities(model, volume, brain_mask)
    return grid_map(model, volume, brain_mask, device, SLICES_PER_BATCH, _restored_map, with_mask=True)

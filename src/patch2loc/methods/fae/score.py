"""FAE's anomaly map of a normalised volume: 1 - SSIM of a frozen ResNet-18's features and their
reconstruction, averaged over the feature channels, in the brain.

Every axial slice that holds brain is masked and resized to the model's `size` grid (as the AE's
scoring), its map computed there (models.py l. 209-217: on the size/4 feature grid, upsampled to
the input's side, bilinear with aligned corners), resized back to the slice (bilinear, as the AE's)
and set to 0 outside the mask. The model is in eval mode: the extractor's batch norms use the
running statistics training gathered on the MRI slices, as the reference's test does. The shared
post-processing (median filter, mask) and the metrics come after.
"""

from __future__ import annotations

import numpy as np
import torch

from patch2loc.networks.inputs import equalise_histogram
from patch2loc.methods.fae.model import FAE, anomaly_slices
from patch2loc.methods.fae.train import ARCHITECTURE, RANGES, check_architecture
from patch2loc.networks.rebuild import check_config, Bounds, load_network
from patch2loc.networks.slices import grid_map, slice_batch_bytes

SLICES_PER_BATCH = 16
# Bytes one slice holds while scored, per pixel of the model's grid: the extractor's stages, the 256
# features at a quarter of the side, their reconstruction and the SSIM's maps of them (float32);
# measured about 1,300 (a 192 x 192 x 100 volume at size 128 on one CPU thread: peak memory up 368 MiB
# for batches of 16 slices), counted as 1,536; per pixel of the volume's own slice, 16 (the slice, its
# mask, the map resized back).
PER_MODEL_PIXEL, PER_SLICE_PIXEL = 1536, 16


def batch_bytes(config: dict) -> int:
    """What one batch of slices holds while the network of `config` (size, volume_shape) runs."""
    return slice_batch_bytes(config, SLICES_PER_BATCH, PER_MODEL_PIXEL, PER_SLICE_PIXEL)


def _check(config: dict, where: str) -> None:
    """A checkpoint's settings: present, in range (bounds.RANGES), a network this code builds; before
    anything is allocated."""
    check_config(config, where, "an FAE", RANGES, ARCHITECTURE, ARCHITECTURE, check_architecture)


# Before the network is built: its settings, its weights and, on the CPU, a batch of slices at its own
# size within the memory budget.
BOUNDS = Bounds(_check, "config size, hidden_dims", batch_bytes, "config size, volume_shape")


def build_network(config: dict) -> FAE:
    """The FAE of a checkpoint's settings; its extractor's weights come with the checkpoint's."""
    # equalise: absent from checkpoints written before the switch, none of which equalised
    equalise = bool(config.get("equalise", False))
    return FAE(config["size"], config["hidden_dims"], float(config["dropout"]), equalise=equalise)


def load_model(checkpoint: str, device: str | torch.device = "cpu", name: str = "FAE") -> tuple[FAE, dict]:
    """Rebuild the FAE, its frozen extractor included, from a checkpoint of method `name` (FAE or its
    offline variant); (model in eval mode, checkpoint dict)."""
    return load_network(checkpoint, name, build_network, device, BOUNDS)


def _ssim_map(model: FAE, x: torch.Tensor, generator: torch.Generator, brain: None) -> torch.Tensor:
    """1 - SSIM on the model's grid (the FAE draws no sample)."""
    return anomaly_slices(model, x)


def anomaly_map(model: FAE, volume: np.ndarray, brain_mask: np.ndarray, device: str | torch.device | None = None):
    """1 - SSIM of features and reconstruction (channel mean) inside the brain mask, 0 outside; float32
    [X, Y, Z]. A model trained with `equalise` scores the volume equalised as its training slices were."""
    volume = equalise_histogram(volume) if model.equalise else volume
    return grid_map(model, volume, brain_mask, device, SLICES_PER_BATCH, _ssim_map, what="the FAE")

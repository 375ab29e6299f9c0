"""The DAE as the workflow and predict call a method (see `patch2loc.registry`): train, load, score."""

from __future__ import annotations

from patch2loc.methods.dae import train as dae_train
from patch2loc.methods.dae.score import anomaly_map, load_model as load
from patch2loc.methods.binding import workflow_trainer
from patch2loc.methods.dae.protocol import KASCENAS as REFERENCE_PROTOCOL  # its authors' evaluation (docs/protocols.md)

Settings = dae_train.DAEConfig  # its config block (`dae:`)
RANGES = dae_train.RANGES  # the bounds of the settings that build its network
train_from_files = workflow_trainer(Settings, dae_train.train_from_files)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "Settings", "activation_bytes", "load", "score", "train_from_files"]
SLICES, ACTIVATION = 16, 1600  # slices per batch of anomaly_map; bytes per slice pixel (a width-64 UNet's levels)


def score(model, image, mask, settings) -> dict:
    """Raw anomaly map of a normalised volume (before the core's median filter and mask)."""
    return {"score": anomaly_map(model, image, mask, settings.device)}


def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
    """What one batch of slices holds while scoring a volume of `grid` (predict's memory budget,
    predict/budget.py)."""
    return SLICES * grid[0] * grid[1] * ACTIVATION

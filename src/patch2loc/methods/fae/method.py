"""FAE as the workflow and predict call a method (see `patch2loc.registry`): train, load, score."""

from __future__ import annotations

from patch2loc.methods.binding import workflow_trainer
from patch2loc.methods.fae import train as fae_train
from patch2loc.methods.fae.protocol import MEISSEN as REFERENCE_PROTOCOL  # its authors' evaluation (docs/protocols.md)
from patch2loc.methods.fae.score import anomaly_map, batch_bytes, load_model as load

Settings = fae_train.FAEConfig  # its config block (`fae:`)
RANGES = fae_train.RANGES  # the bounds of the settings that build its network
train_from_files = workflow_trainer(Settings, fae_train.train_from_files)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "Settings", "activation_bytes", "load", "score", "train_from_files"]


def score(model, image, mask, settings) -> dict:
    """Raw anomaly map of a normalised volume (before the core's median filter and mask)."""
    return {"score": anomaly_map(model, image, mask, settings.device)}


def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
    """What one batch of slices holds while scoring a volume of `grid` (predict's memory budget,
    predict/budget.py); the model's grid is taken as the slice's or the paper's 128, whichever is
    larger. A checkpoint's own size is held to the budget when it is loaded (score.BOUNDS)."""
    side = max(grid[0], grid[1], Settings.size)
    return batch_bytes({"size": side, "volume_shape": grid})

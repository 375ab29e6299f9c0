"""RA as the workflow and predict call a method (see `patch2loc.registry`): train, load, score."""

from __future__ import annotations

from patch2loc.methods.binding import workflow_trainer
from patch2loc.methods.ra import train as ra_train
from patch2loc.methods.ra.protocol import BERCEA as REFERENCE_PROTOCOL  # its authors' evaluation (docs/protocols.md)
from patch2loc.methods.ra.score import anomaly_map, batch_bytes
from patch2loc.methods.ra.score import load_model as load

Settings = ra_train.RAConfig  # its config block (`ra:`)
RANGES = ra_train.RANGES  # the bounds of the settings that build its network
train_from_files = workflow_trainer(Settings, ra_train.train_from_files)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "Settings", "activation_bytes", "load", "score", "train_from_files"]


def score(model, image, mask, settings) -> dict:
    """Raw anomaly map of a normalised volume (before the core's median filter and mask)."""
    return {"score": anomaly_map(model, image, mask, settings.device)}


def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
    """What one batch of slices holds while scoring a volume of `grid` (predict's memory budget, before
    the models are read); the model's grid is taken as the paper's 128 and width 64. A checkpoint's own
    size and width are held to the budget when it is loaded (score.BOUNDS)."""
    config = {"size": Settings.size, "width": Settings.width, "volume_shape": grid}
    return batch_bytes(config)

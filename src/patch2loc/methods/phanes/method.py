"""PHANES as the workflow and predict call a method (see `patch2loc.registry`): train, load, score."""

from __future__ import annotations

from patch2loc.methods.binding import workflow_trainer
from patch2loc.methods.phanes import train as phanes_train
from patch2loc.methods.phanes.protocol import (
    BERCEA as REFERENCE_PROTOCOL,
)  # its authors' evaluation (docs/protocols.md)
from patch2loc.methods.phanes.score import anomaly_map, batch_bytes
from patch2loc.methods.phanes.score import load_model as load

Settings = phanes_train.PHANESConfig  # its config block (`phanes:`)
RANGES = phanes_train.RANGES  # the bounds of the settings that build its networks
train_from_files = workflow_trainer(Settings, phanes_train.train_from_files)
__all__ = ["REFERENCE_PROTOCOL", "RANGES", "Settings", "activation_bytes", "load", "score", "train_from_files"]


def score(model, image, mask, settings) -> dict:
    """PHANES' raw map of a normalised volume: |x - restored| x saliency, before the shared median and mask."""
    return {"score": anomaly_map(model, image, mask, settings.device)}


def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
    """Bytes one batch of slices of a `grid` volume holds in RA's network and the inpainter (predict's
    budget, taken before the models are read: the paper's 128 x 128 grid and width 64); score.BOUNDS
    holds a checkpoint's own size and width to the budget when it is loaded."""
    return batch_bytes({"size": Settings.size, "width": Settings.width, "volume_shape": grid})

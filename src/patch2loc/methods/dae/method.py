"""The DAE as the workflow and predict call a method (see `patch2loc.methods`): train, load, score."""
from __future__ import annotations

from patch2loc.methods.dae import train as dae_train
from patch2loc.methods.dae.score import anomaly_map, load_model as load
from patch2loc.methods.harness import workflow_trainer

Settings = dae_train.DAEConfig  # its config block (`dae:`)
train_from_files = workflow_trainer(Settings, dae_train.train_from_files)
__all__ = ["Settings", "load", "score", "train_from_files"]


def score(model, image, mask, settings) -> dict:
    """Raw anomaly map of a normalised volume (before the core's median filter and mask)."""
    return {"score": anomaly_map(model, image, mask, settings.device)}

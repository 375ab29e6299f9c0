"""The DAE as the workflow calls a method (see `patch2loc.methods`): train, load, score."""
from __future__ import annotations

from patch2loc.methods.dae import train as dae_train
from patch2loc.methods.dae.score import anomaly_map, load_model as load
from patch2loc.methods.harness import workflow_trainer

train_from_files = workflow_trainer(dae_train.DAEConfig, dae_train.train_from_files)  # the `dae:` block
__all__ = ["load", "score", "train_from_files"]


def score(model, image, mask, cfg) -> dict:
    """Raw anomaly map of a normalised volume (before the shared median filter and mask)."""
    return {"score": anomaly_map(model, image, mask, cfg.device)}

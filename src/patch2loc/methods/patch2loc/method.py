"""Patch2Loc as the workflow calls a method (see `patch2loc.methods`): train, load, score."""
from __future__ import annotations

from patch2loc.methods.harness import workflow_trainer
from patch2loc.methods.patch2loc import train as p2l_train
from patch2loc.methods.patch2loc.model import load_model as load

train_from_files = workflow_trainer(p2l_train.TrainConfig, p2l_train.train_from_files)  # the `train:` block
__all__ = ["load", "score", "train_from_files"]


def score(model, image, mask, cfg) -> dict:
    """The dense maps of a normalised volume (before the shared median filter and mask): the
    score and its two terms, and the predicted means and log-variances (patch statistics)."""
    from patch2loc.methods.patch2loc.heatmap import score_volume

    res = score_volume(model, image, mask, stride=cfg.stride, batch_size=cfg.batch_size, device=cfg.device,
                       amp=cfg.amp, region=cfg.heatmap_region, margin=cfg.median_size // 2,
                       return_predictions=True)
    return {"score": res.score, "log_error": res.log_error, "log_variance": res.log_variance,
            "mean": res.mean, "logvar": res.logvar}

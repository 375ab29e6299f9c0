"""Patch2Loc as the workflow calls a method (see `patch2loc.methods`): train, load, score."""
from __future__ import annotations

from patch2loc.methods.patch2loc.model import load_model


def train_from_files(train_pairs, val_pairs, settings: dict, out_dir, *, modality: str, threads: int,
                     progress: bool = True) -> dict:
    """Train on a fold's (image, mask) pairs with the workflow's `train` block."""
    from patch2loc.methods.patch2loc.train import TrainConfig, train_from_files as train_pairs_

    cfg = TrainConfig.from_dict({**{k: v for k, v in settings.items() if k != "threads"},
                                 "num_threads": threads, "modality": modality})
    return train_pairs_(train_pairs, val_pairs, cfg, out_dir, progress)


def load(checkpoint, device):
    return load_model(checkpoint, device)


def score(model, image, mask, cfg) -> dict:
    """The dense maps of a normalised volume (before the shared median filter and mask): the
    score and its two terms, and the predicted means and log-variances (patch statistics)."""
    from patch2loc.methods.patch2loc.heatmap import score_volume

    res = score_volume(model, image, mask, stride=cfg.stride, batch_size=cfg.batch_size, device=cfg.device,
                       amp=cfg.amp, region=cfg.heatmap_region, margin=cfg.median_size // 2,
                       return_predictions=True)
    return {"score": res.score, "log_error": res.log_error, "log_variance": res.log_variance,
            "mean": res.mean, "logvar": res.logvar}

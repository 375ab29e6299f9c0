"""The DAE as the workflow calls a method (see `patch2loc.methods`): train, load, score."""
from __future__ import annotations

from patch2loc.methods.dae.score import anomaly_map, load_model


def train_from_files(train_pairs, val_pairs, settings: dict, out_dir, *, modality: str, threads: int,
                     progress: bool = True) -> dict:
    """Train on a fold's (image, mask) pairs with the workflow's `dae` block."""
    from patch2loc.methods.dae.train import DAEConfig, train_from_files as train_pairs_

    cfg = DAEConfig.from_dict({**{k: v for k, v in settings.items() if k != "threads"},
                               "num_threads": threads, "modality": modality})
    return train_pairs_(train_pairs, val_pairs, cfg, out_dir, progress)


def load(checkpoint, device):
    return load_model(checkpoint, device)


def score(model, image, mask, cfg) -> dict:
    """Raw anomaly map of a normalised volume (before the shared median filter and mask)."""
    return {"score": anomaly_map(model, image, mask, cfg.device)}

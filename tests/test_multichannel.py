"""C input channels (co-registered contrasts) for Patch2Loc and the DAE; one channel is today's exactly."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from patch2loc.checkpoint import read_checkpoint
from patch2loc.methods.dae import train as dae_train
from patch2loc.methods.dae.score import anomaly_map
from patch2loc.methods.dae.score import load_model as load_dae
from patch2loc.methods.patch2loc import train as p2l_train
from patch2loc.methods.patch2loc.heatmap import score_volume
from patch2loc.methods.patch2loc.model import load_model as load_p2l
from patch2loc.methods.training_data import TrainingData

SHAPE = (16, 16, 6)


def _volumes(n: int, channels: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n tiny 'brains' (an ellipsoid mask, smooth random intensities): [n, X, Y, Z] when channels
    is None (today's input), else [n, C, X, Y, Z]."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, s) for s in SHAPE), indexing="ij")
    mask = (x**2 + y**2 + 0.5 * z**2) < 0.8
    masks = np.repeat(mask[None], n, axis=0)
    images = (rng.normal(0.5, 0.2, (n, channels or 1, *SHAPE)) + x[None, None]).astype(np.float32)
    return (images[:, 0] if channels is None else images), masks


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


def _train_p2l(out, channels):
    images, masks = _volumes(3, channels, seed=0)
    cfg = p2l_train.TrainConfig(steps=3, patches_per_step=32, val_every=3, val_batches=1, patch_size=4, device="cpu")
    cfg.num_threads = 1
    p2l_train.train(images[:2], masks[:2], images[2:], masks[2:], cfg, out, progress=False)
    return images[2], masks[2]


def _train_dae(out, channels):
    images, masks = _volumes(3, channels, seed=1)
    data = TrainingData(images[:2], masks[:2], images[2:], masks[2:], {"train": ["a", "b"], "val": ["c"]}, (1, 1, 1))
    cfg = dae_train.DAEConfig(steps=3, batch_size=2, width=4, depth=3, val_every=3, val_batches=1, device="cpu")
    cfg.num_threads = 1
    dae_train.train(data, cfg, out, progress=False)
    return images[2], masks[2]


def one_channel_digests(tmp) -> dict:
    """Digests of the weights after 3 training steps and of the heatmap, for today's one-channel
    input ([S, X, Y, Z]): Patch2Loc, then the DAE."""
    torch.set_num_threads(1)
    image, mask = _train_p2l(f"{tmp}/p2l", None)
    model, _ = load_p2l(f"{tmp}/p2l/last.pt")
    heat = score_volume(model, image, mask, device="cpu", amp="none", region="all").score
    image_d, mask_d = _train_dae(f"{tmp}/dae", None)
    dae, _ = load_dae(f"{tmp}/dae/last.pt")
    arrays = {
        "p2l_weights": [t.numpy() for t in model.state_dict().values()],
        "p2l_heatmap": [heat],
        "dae_weights": [t.numpy() for t in dae.state_dict().values()],
        "dae_map": [anomaly_map(dae, image_d, mask_d, "cpu")],
    }
    digests = {k: _digest(v) for k, v in arrays.items()}
    sums = {k: float(sum(np.abs(a.astype(np.float64)).sum() for a in v)) for k, v in arrays.items()}
    return digests, sums

"""cDDPM's encoder pre-training: a masked autoencoder (SparK) on the fold's normal training slices.

One step = `batch_size` brain slices (as the diffusion models draw them, on the model's grid), 65 %
of the 32-pixel cells hidden at random per slice, the squared error on the hidden cells; AdamW
(weight decay 0.05, betas 0.9 / 0.95, the reference's) at a constant rate. Validation: a fixed set
of slices and masks. The workflow's rule `pretrain_cddpm` runs it per (modality, fold) into its own
model folder; `train_cddpm` then starts the cDDPM's encoder from its best.pt. Its settings are the
`pretrain:` part of the `cddpm:` block; `encoder` and `rescale` are the cDDPM's own.
"""

from __future__ import annotations

from functools import partial
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from patch2loc.errors import InputError
from patch2loc.methods.diffusion.encoder import PRETRAINED as NAME
from patch2loc.methods.diffusion.encoder import STRIDE, MaskedAutoencoder
from patch2loc.methods.diffusion.train import SliceTask, brain_slices
from patch2loc.training.harness import (
    LOOP_MUST_MATCH,
    LoopSettings,
    autocast_context,
    check_settings,
    train_seeded,
)
from patch2loc.training.training_data import Pairs, TrainingData, load_training_data
from patch2loc.run.settings import config_from_dict

RESUME_MUST_MATCH = (
    "steps",
    "batch_size",
    "lr",
    "weight_decay",
    "mask_ratio",
    "decoder_width",
    "encoder",
    "rescale",
    *LOOP_MUST_MATCH,
)


@dataclass
class PretrainConfig(LoopSettings):
    steps: int = 13200  # the reference: 1,200 epochs of 11 batches
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.05
    mask_ratio: float = 0.65
    decoder_width: int = 512
    encoder: str = "resnet50"
    rescale: int = 2

    def __post_init__(self) -> None:
        check_settings(self, "cddpm.pretrain", "cddpm.pretrain.device")
        if not 0 < self.mask_ratio < 1:
            raise InputError(f"cddpm.pretrain.mask_ratio={self.mask_ratio}: must lie between 0 and 1.")


class PretrainTask(SliceTask):
    method = NAME
    columns = ("step", "train_loss", "val_loss")

    def __init__(self, data: TrainingData, cfg: PretrainConfig, device: torch.device):
        self.cfg, self.device = cfg, device
        self.slices = self._fit(brain_slices(data.train_images, data.train_masks, cfg.rescale, device))
        val = self._fit(brain_slices(data.val_images, data.val_masks, cfg.rescale, device))
        self.model = MaskedAutoencoder(cfg.encoder, cfg.decoder_width, cfg.mask_ratio).to(device)
        val_gen = torch.Generator(device).manual_seed(cfg.seed + 1)
        self.val_set = [self._batch(val, val_gen) for _ in range(cfg.val_batches)]
        self.generator = torch.Generator(device).manual_seed(cfg.seed)
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95)
        )

    @staticmethod
    def _fit(slices: torch.Tensor) -> torch.Tensor:
        """Slices zero padded to multiples of the encoder's 32-pixel cells."""
        h, w = slices.shape[-2:]
        if min(h, w) < STRIDE:
            raise InputError(
                f"cddpm pre-training: slices of {h}x{w} pixels on the model's grid are smaller than the "
                f"encoder's {STRIDE}-pixel cells; lower `rescale`."
            )
        return torch.nn.functional.pad(slices, (0, -w % STRIDE, 0, -h % STRIDE))

    def _batch(self, pool: torch.Tensor, gen: torch.Generator):
        clean = pool[torch.randint(len(pool), (self.cfg.batch_size,), generator=gen, device=self.device)]
        return clean, self.model.draw_visible(len(clean), clean.shape[-2:], gen)

    def _loss(self, clean, visible) -> torch.Tensor:
        with autocast_context(self.device, self.cfg.amp):
            return self.model(clean, visible)[1]

    @torch.no_grad()
    def evaluate(self) -> dict:
        self.model.eval()
        return {"val_loss": sum(self._loss(*b).item() for b in self.val_set) / len(self.val_set)}


def train(data: TrainingData, cfg: PretrainConfig, out_dir: str | Path, progress: bool = True) -> dict:
    config = {**asdict(cfg), "volume_shape": list(data.train_images.shape[1:]), "spacing": list(data.spacing)}
    return train_seeded(
        partial(PretrainTask, data, cfg), data, cfg, out_dir, config, must_match=RESUME_MUST_MATCH, progress=progress
    )


def train_from_files(
    train_pairs: Pairs, val_pairs: Pairs, settings: dict, out_dir, *, modality: str, threads: int, progress: bool = True
) -> dict:
    """The workflow's call: `settings` is the whole `cddpm:` block (its `pretrain:` part, plus the
    cDDPM's `encoder` and `rescale`, which the pre-training must share)."""
    block = {
        **(settings.get("pretrain") or {}),
        "encoder": settings.get("encoder", "resnet50"),
        "rescale": settings.get("rescale", 2),
        "num_threads": threads,
        "modality": modality,
    }
    cfg = config_from_dict(PretrainConfig, block, "cddpm.pretrain (workflow config)")
    return train(load_training_data(train_pairs, val_pairs), cfg, out_dir, progress)

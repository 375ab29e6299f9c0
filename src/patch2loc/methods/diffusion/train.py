"""Training of the three diffusion models: predict the clean slice from its simplex-noised self.

One step = `batch_size` axial slices (masked by the brain) drawn uniformly, with replacement, among
the training volumes' slices that hold brain, averaged down to the model's grid (`rescale`); a step
t uniform in 0..999 per slice, one simplex noise field for the batch (the reference's choice);
x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; the UNet predicts x0; L1 loss, mean over every
pixel; one Adam step at a constant rate. pDDPM noises one square of its grid per slice (drawn at
random) and its loss counts only that square (mean over every pixel, the rest being the input
itself); cDDPM adds the condition vector of the clean slice, its encoder trained along, starting
from the masked-autoencoder pre-training (`encoder_checkpoint`). Validation: a fixed set of slices,
steps, noise and squares drawn once with a generator of its own; `val_recon_error` is the mean
|x - reconstruction| in the brain at the test steps, the anomaly score's level on normal tissue.
The loop, checkpoints, resume and best model are the shared harness's (`training.harness`).
"""

from __future__ import annotations

from functools import partial
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from patch2loc.checks.intensities import training_range
from patch2loc.errors import InputError
from patch2loc.methods.diffusion.bounds import check_grid
from patch2loc.methods.diffusion.bounds import check_settings as check_settings_in_range
from patch2loc.methods.diffusion.model import ARCHITECTURE, DiffusionModel, box_masks, downsample, reconstruct
from patch2loc.methods.diffusion.simplex import simplex_noise
from patch2loc.training.harness import (
    LOOP_MUST_MATCH,
    LoopSettings,
    autocast_context,
    check_settings,
    train_seeded,
)
from patch2loc.training.resume import NothingExtra
from patch2loc.training.training_data import Pairs, TrainingData, check_same_grid, load_training_data

COLUMNS = ("step", "train_loss", "val_loss", "val_recon_error")
RESUME_MUST_MATCH = (
    *ARCHITECTURE,
    "batch_size",
    "lr",
    "noise_octaves",
    "noise_persistence",
    "noise_wavelength_mm",
    "test_steps",
    "steps",
    "encoder_from",
    *LOOP_MUST_MATCH,
)


@dataclass
class DiffusionConfig(LoopSettings):
    """Settings of DDPM, pDDPM and cDDPM; defaults are the reference's DDPM (docs/diffusion.md)."""

    steps: int = 17600  # the reference: 1,600 epochs of 11 batches (one slice per training subject per epoch)
    batch_size: int = 32
    lr: float = 1e-4
    width: int = 128  # UNet channels at the top level
    mults: list = field(default_factory=lambda: [1, 2, 2])
    blocks: int = 3  # residual blocks per level
    dropout: float = 0.0
    timesteps: int = 1000
    test_steps: list = field(default_factory=lambda: [500])  # cDDPM: [250, 500, 750], averaged
    rescale: int = 2  # slices averaged over rescale x rescale pixels (1 mm -> the reference's 2 mm)
    noise_octaves: int = 6
    noise_persistence: float = 0.8
    noise_wavelength_mm: float = 128.0  # the first octave's 64 pixels at 2 mm
    patch_size: int | None = None  # pDDPM: 48 (pixels on the model's grid)
    encoder: str | None = None  # cDDPM: resnet50
    encoder_checkpoint: str | None = None  # cDDPM: the pre-trained encoder's best.pt (the workflow sets it)
    pretrain: dict | None = None  # cDDPM: its pre-training's settings (used by the pre-training rule)
    method: str = "DDPM"  # the registry name written into the checkpoints

    def __post_init__(self) -> None:
        check_settings(self, f"{self.method} config", f"{self.method.lower()}.device")
        if self.batch_size < 1:
            raise InputError(f"{self.method}: batch_size must be positive.")
        # the bounds a checkpoint's config is held to (bounds.py, the workflow's blocks at start-up too)
        check_settings_in_range(asdict(self), f"{self.method} config", self.method.lower())


def model_of(cfg: DiffusionConfig | dict) -> DiffusionModel:
    get = cfg.get if isinstance(cfg, dict) else lambda k: getattr(cfg, k)
    return DiffusionModel(**{k: get(k) for k in ARCHITECTURE})


def brain_slices(images, masks, factor: int, device: torch.device) -> torch.Tensor:
    """Axial slices [N, 1, h, w] (image x mask) of [S, X, Y, Z] stacks that hold brain, on the model's grid."""
    keep = masks.any(axis=(1, 2))
    order = (0, 3, 1, 2)
    slices = torch.from_numpy(images.transpose(order)[keep] * masks.transpose(order)[keep]).unsqueeze(1)
    if not len(slices):
        raise InputError("diffusion training: no axial slice holds brain; check the brain masks.")
    return torch.cat([downsample(slices[i : i + 256], factor) for i in range(0, len(slices), 256)]).to(device)


def frequency_px(cfg: DiffusionConfig, spacing: tuple[float, ...]) -> float:
    """The simplex noise's first-octave wavelength in pixels of the model's grid."""
    return cfg.noise_wavelength_mm / (float(spacing[0]) * cfg.rescale)


def load_encoder(model: DiffusionModel, path: str | None) -> None:
    from patch2loc.run.checkpoint import read_checkpoint

    if path is None:
        return
    from patch2loc.methods.diffusion.encoder import PRETRAINED, backbone_weights

    ckpt = read_checkpoint(
        path, "pre-trained encoder", fix="Pass the best.pt of the cDDPM's pre-training.", method=PRETRAINED
    )
    try:
        model.encoder.load_backbone(backbone_weights(ckpt))
    except (KeyError, RuntimeError) as exc:
        raise InputError(
            f"{path}: its encoder does not fit the cDDPM's ({str(exc)[:120]}); pre-train with the same `encoder`."
        ) from None


class SliceTask(NothingExtra):
    """What the diffusion models' and the pre-training's tasks share: one update of the batch the
    task's `_batch` draws from its training slices with its generator, with `_loss`."""

    def train_step(self, step: int) -> torch.Tensor:
        loss = self._loss(*self._batch(self.slices, self.generator))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


class DiffusionTask(SliceTask):
    """The harness's view of one diffusion model's training (`training.harness.TrainingTask`)."""

    columns = COLUMNS

    def __init__(self, data: TrainingData, cfg: DiffusionConfig, frequency: float, device: torch.device):
        self.method, self.cfg, self.device, self.frequency = cfg.method, cfg, device, frequency
        self.slices = brain_slices(data.train_images, data.train_masks, cfg.rescale, device)
        val_slices = brain_slices(data.val_images, data.val_masks, cfg.rescale, device)
        self.model = model_of(cfg).to(device)
        load_encoder(self.model, cfg.encoder_checkpoint)
        val_gen = torch.Generator(device).manual_seed(cfg.seed + 1)  # never touches the training stream
        self.val_set = [self._batch(val_slices, val_gen) for _ in range(cfg.val_batches)]
        self.val_noise_seed = cfg.seed + 2
        self.generator = torch.Generator(device).manual_seed(cfg.seed)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr)

    def _batch(self, pool: torch.Tensor, gen: torch.Generator):
        """(clean slices, steps, noise, squares or None) of one batch drawn from `pool`."""
        cfg, (h, w) = self.cfg, pool.shape[-2:]
        clean = pool[torch.randint(len(pool), (cfg.batch_size,), generator=gen, device=self.device)]
        t = torch.randint(cfg.timesteps, (cfg.batch_size,), generator=gen, device=self.device)
        noise = simplex_noise(
            cfg.batch_size,
            h,
            w,
            gen,
            octaves=cfg.noise_octaves,
            persistence=cfg.noise_persistence,
            frequency=self.frequency,
            device=self.device,
        )
        box = None
        if cfg.patch_size:
            index = torch.randint(len(self.model.boxes(h, w)), (cfg.batch_size,), generator=gen, device=self.device)
            box = box_masks(self.model, index, h, w)
        return clean, t, noise, box

    def _loss(self, clean, t, noise, box) -> torch.Tensor:
        with autocast_context(self.device, self.cfg.amp):
            x0 = self.model.predict(clean, t, noise, box, self.model.condition(clean))
        return (x0 - clean).abs().mean() * 2  # L1 on the model's [-1, 1] scale

    @torch.no_grad()
    def evaluate(self) -> dict:
        self.model.eval()
        cfg, loss, error, brain = self.cfg, 0.0, 0.0, 0.0
        gen = torch.Generator(self.device).manual_seed(self.val_noise_seed)  # the same noise at every validation
        for clean, t, noise, box in self.val_set:
            loss += self._loss(clean, t, noise, box).item()
            reco = reconstruct(
                self.model, clean, tuple(cfg.test_steps), gen, cfg.noise_octaves, cfg.noise_persistence, self.frequency
            )
            inside = clean > 0
            error += ((reco - clean).abs() * inside).sum().item()
            brain += inside.sum().item()
        return {"val_loss": loss / len(self.val_set), "val_recon_error": error / max(brain, 1.0)}


def train(data: TrainingData, cfg: DiffusionConfig, out_dir: str | Path, progress: bool = True) -> dict:
    """Train one diffusion model on stacked volumes; write last.pt, best.pt, loss.csv in `out_dir`."""
    check_same_grid(data.train_images, data.val_images)
    shape = data.train_images.shape[1:]
    check_grid(asdict(cfg), shape, f"{cfg.method} config", cfg.method.lower())
    if cfg.encoder and cfg.encoder_checkpoint is None and cfg.pretrain is not None:
        raise InputError(
            f"{cfg.method}: no encoder_checkpoint (the pre-trained encoder's best.pt); the workflow "
            "passes it, or set pretrain: null to train the encoder from scratch."
        )
    frequency = frequency_px(cfg, data.spacing)
    # The training intensities are recorded, as for every method: predict checks a scan's scale against them.
    config = {
        **asdict(cfg),
        "volume_shape": list(shape),
        "spacing": list(data.spacing),
        "noise_frequency_px": frequency,
        "encoder_from": "pre-trained" if cfg.encoder_checkpoint else None,
        "intensity_range": training_range(data.train_images, data.train_masks),
    }
    config.pop("encoder_checkpoint")  # a path of the machine that trained: not part of the model
    return train_seeded(
        partial(DiffusionTask, data, cfg, frequency),
        data,
        cfg,
        out_dir,
        config,
        must_match=RESUME_MUST_MATCH,
        progress=progress,
    )


def train_from_files(
    train_pairs: Pairs, val_pairs: Pairs, cfg: DiffusionConfig, out_dir: str | Path, progress: bool = True
) -> dict:
    return train(load_training_data(train_pairs, val_pairs), cfg, out_dir, progress)

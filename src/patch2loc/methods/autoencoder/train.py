"""Training of Baur et al.'s AE and VAE: reconstruct healthy axial slices through a 128-value code.

One step = `batch_size` axial slices (image x brain mask) drawn uniformly, with replacement, among
the training volumes' slices that hold brain, resized to the model's `size` x `size` grid (the
reference's loader resizes larger slices to 128 x 128 with bilinear interpolation,
dataloaders/BRAINWEB.py:138-141), the L1 error summed over each slice's pixels and averaged over the
batch (trainers/AE.py:28-29); the VAE adds `kl_weight` x the KL divergence of its code from N(0, I),
summed over the code (trainers/VAE.py:36-42, weight 1). One Adam step at a constant rate with
beta1 = 0.5 (trainers/DLMODEL.py:113-115, utils/default_config_setup.py:257). Validation: a fixed
set of slices of the validation subjects, drawn once with a generator of its own; `val_recon_error`
is the mean |x - reconstruction| in the brain, the anomaly score's level on normal tissue. The loop,
checkpoints, resume and best model by validation loss are the shared harness's (`training.harness`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from patch2loc.checks.ranges import check_block
from patch2loc.errors import InputError
from patch2loc.run.settings import check_network
from patch2loc.methods.autoencoder.bounds import MAX_SIZE, RANGES, VAE_RANGES  # one table: bounds.py
from patch2loc.methods.autoencoder.model import DenseAutoencoder, layer_count
from patch2loc.networks.inputs import ALL_SLICES, axial_band, per_volume
from patch2loc.networks.slices import to_grid
from patch2loc.training.harness import (
    LOOP_MUST_MATCH,
    LoopSettings,
    autocast_context,
    check_settings,
)
from patch2loc.training.resume import NothingExtra
from patch2loc.training.training_data import Pairs, TrainingData, load_training_data, train_task

COLUMNS = ("step", "train_loss", "val_loss", "val_recon_error")
ARCHITECTURE = ("size", "width", "bottleneck", "latent", "dropout", "variational")
RESUME_MUST_MATCH = (
    *ARCHITECTURE,
    "batch_size",
    "lr",
    "beta1",
    "kl_weight",
    "steps",
    *LOOP_MUST_MATCH,
)
MAX_PARAMETERS = 200_000_000  # a network this large is a typo in a block or an edited checkpoint


def check_architecture(arch: dict, where: str) -> None:
    """One line (ValueError) unless the network `arch` describes is one this code builds within bounds:
    `size` = `bottleneck` x 2^k (k >= 1) up to MAX_SIZE, positive width/latent, dropout in [0, 1), at
    most MAX_PARAMETERS weights (counted on the meta device: nothing allocated)."""
    size, bottleneck = arch["size"], arch["bottleneck"]
    ints = [arch[k] for k in ("size", "width", "bottleneck", "latent")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in ints) or size > MAX_SIZE:
        raise ValueError(f"{where}: size, width, bottleneck and latent must be whole numbers >= 1 (size <= {MAX_SIZE})")
    if size < 2 * bottleneck or 2 ** layer_count(size, bottleneck) * bottleneck != size:  # 96 / 8 = 12: refused
        raise ValueError(
            f"{where}: size {size} must be bottleneck {bottleneck} times a power of 2 (>= 2), e.g. 128 and 8"
        )
    if not 0 <= float(arch["dropout"]) < 1:
        raise ValueError(f"{where}: dropout {arch['dropout']} must lie in [0, 1)")
    if min(4 * arch["width"], arch["width"] * 2 ** (layer_count(size, bottleneck) - 1)) < 8:
        raise ValueError(
            f"{where}: width {arch['width']} leaves the encoder's last layer fewer than 8 channels (1/8 kept)"
        )
    with torch.device("meta"):
        count = sum(p.numel() for p in DenseAutoencoder(**{k: arch[k] for k in ARCHITECTURE}).parameters())
    if count > MAX_PARAMETERS:
        raise ValueError(f"{where}: {count:,} weights, more than {MAX_PARAMETERS:,}; use a smaller width or latent")


@dataclass
class AutoencoderConfig(LoopSettings):
    """Settings of the AE and the VAE; defaults are the reference's (docs/ae-vae.md)."""

    steps: int = 5700  # the reference: 20 epochs of ~36,500 slices (365 subjects x 100) in batches of 128
    batch_size: int = 128
    lr: float = 1e-4
    beta1: float = 0.5  # Adam's first-moment decay (the reference's; PyTorch's default is 0.9)
    size: int = 128  # the model's slice side: slices are resized to size x size
    width: int = 32  # filters of the first convolution (32, 64, 128, 128)
    bottleneck: int = 8  # side of the grid the encoder ends on (the reference's intermediateResolutions)
    latent: int = 128  # the code's length (zDim)
    dropout: float = 0.1  # on the code while training (the reference notebook's dropout_rate)
    method: str = "AE"  # the registry name written into the checkpoints
    variational = False  # class attribute: the VAE's subclass sets it (not a setting of the block)
    kl_weight = 0.0  # class attribute: the AE's loss has no KL term; the VAE's block sets it (a setting there)

    def __post_init__(self) -> None:
        check_settings(self, f"{self.method} config", f"{self.method.lower()}.device")
        rules = VAE_RANGES if self.variational else RANGES
        check_block(asdict(self), rules, self.method.lower(), f"{self.method} config")  # checkpoints: the same
        if self.batch_size < 1 or self.lr <= 0 or not 0 <= self.beta1 < 1:
            raise InputError(f"{self.method}: batch_size and lr must be positive, beta1 in [0, 1).")
        check_network(check_architecture, self.architecture(), f"{self.method} config")

    def architecture(self) -> dict:
        return {**{k: getattr(self, k) for k in ARCHITECTURE if k != "variational"}, "variational": self.variational}


def brain_slices(
    images: np.ndarray, masks: np.ndarray, size: int, device: torch.device, brain: bool = True, band=ALL_SLICES
):
    """(slices [N, 1, size, size] (image x mask), brain [N, 1, size, size] bool, or None without `brain`)
    of the axial slices of [S, X, Y, Z] stacks that hold brain (within `band` of each volume's brain,
    networks.inputs.axial_band), on the model's grid and the device."""
    keep = axial_band(masks, band)
    order = (0, 3, 1, 2)
    fg = torch.from_numpy(np.ascontiguousarray(masks.transpose(order)[keep])).unsqueeze(1)
    if not len(fg):
        raise InputError("autoencoder training: no axial slice holds brain; check the brain masks.")
    image = torch.from_numpy(np.ascontiguousarray(images.transpose(order)[keep])).unsqueeze(1)
    out, inside = [], []
    for i in range(0, len(fg), 256):  # resized in chunks: the whole stack at once would double its memory
        m = fg[i : i + 256].to(device, torch.float32)
        out.append(to_grid(image[i : i + 256].to(device) * m, (size, size)))
        if brain:
            inside.append(to_grid(m, (size, size)) >= 0.5)
    return torch.cat(out), torch.cat(inside) if brain else None


def reference_slices(
    data: TrainingData, size: int, device: torch.device, *, band=ALL_SLICES, intensity="clip", equalise=False
):
    """(training slices, validation slices, validation brain) as `brain_slices` gives them, after a
    reference's per-volume conventions (networks.inputs.per_volume) and within its axial `band`."""
    train = per_volume(data.train_images, data.train_masks, intensity=intensity, equalise=equalise)
    val = per_volume(data.val_images, data.val_masks, intensity=intensity, equalise=equalise)
    slices = brain_slices(train, data.train_masks, size, device, brain=False, band=band)[0]
    return (slices, *brain_slices(val, data.val_masks, size, device, band=band))


def fixed_batches(slices: torch.Tensor, brain: torch.Tensor, cfg, device: torch.device) -> list:
    """The validation set: `cfg.val_batches` batches of `cfg.batch_size` (slice, brain) pairs drawn once
    with a generator of its own (seed + 1: it never touches the training stream)."""
    generator = torch.Generator(device).manual_seed(cfg.seed + 1)
    batches = []
    for _ in range(cfg.val_batches):
        idx = torch.randint(len(slices), (cfg.batch_size,), generator=generator, device=device)
        batches.append((slices[idx], brain[idx]))
    return batches


def validation_batches(data: TrainingData, cfg, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`fixed_batches` of the validation volumes' slices on the `cfg.size` grid (the AE's and VAE's)."""
    val_slices, val_brain = brain_slices(data.val_images, data.val_masks, cfg.size, device)
    return fixed_batches(val_slices, val_brain, cfg, device)


def autoencoder_loss(model, x: torch.Tensor, generator: torch.Generator, kl_weight: float, amp: str) -> torch.Tensor:
    """L1 summed over each slice, + kl_weight x KL(N(mu, sigma^2) || N(0, 1)) summed over the code
    (the VAE), averaged over the batch."""
    with autocast_context(x.device, amp):
        x_hat, mu, log_sigma = model(x, generator)
    loss = (x_hat.float() - x).abs().sum(dim=(1, 2, 3))
    if log_sigma is not None:
        mu, log_sigma = mu.float(), log_sigma.float()
        loss = loss + kl_weight * 0.5 * (mu**2 + (2 * log_sigma).exp() - 2 * log_sigma - 1).sum(dim=1)
    return loss.mean()


class AutoencoderTask(NothingExtra):
    """The harness's view of the AE's or VAE's training (`training.harness.TrainingTask`)."""

    columns = COLUMNS

    def __init__(self, data: TrainingData, cfg: AutoencoderConfig, device: torch.device):
        self.method, self.cfg, self.device = cfg.method, cfg, device
        self.kl_weight = float(cfg.kl_weight)
        self.slices, _ = brain_slices(data.train_images, data.train_masks, cfg.size, device, brain=False)
        self.val_set = validation_batches(data, cfg, device)
        self.generator = torch.Generator(device).manual_seed(cfg.seed)
        self.model = DenseAutoencoder(**cfg.architecture()).to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))

    def train_step(self, step: int) -> torch.Tensor:
        idx = torch.randint(len(self.slices), (self.cfg.batch_size,), generator=self.generator, device=self.device)
        loss = autoencoder_loss(self.model, self.slices[idx], self.generator, self.kl_weight, self.cfg.amp)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    @torch.no_grad()
    def evaluate(self) -> dict:
        self.model.eval()
        gen = torch.Generator(self.device).manual_seed(self.cfg.seed + 2)  # the same code samples every time
        loss, error, brain = 0.0, 0.0, 0.0
        for x, inside in self.val_set:
            loss += autoencoder_loss(self.model, x, gen, self.kl_weight, self.cfg.amp).item()
            with autocast_context(self.device, self.cfg.amp):
                x_hat = self.model(x, gen)[0].float()
            error += ((x_hat - x).abs() * inside).sum().item()
            brain += inside.sum().item()
        return {"val_loss": loss / len(self.val_set), "val_recon_error": error / max(brain, 1.0)}


def train(data: TrainingData, cfg: AutoencoderConfig, out_dir: str | Path, progress: bool = True) -> dict:
    """Train the AE or VAE on stacked volumes; write last.pt, best.pt, loss.csv in `out_dir`. The
    checkpoints record the network's kind and the KL weight beside the settings (the AE's: 0)."""
    recorded = {"variational": cfg.variational, "kl_weight": float(cfg.kl_weight)}
    return train_task(
        AutoencoderTask, data, cfg, out_dir, must_match=RESUME_MUST_MATCH, progress=progress, recorded=recorded
    )


def train_from_files(
    train_pairs: Pairs, val_pairs: Pairs, cfg: AutoencoderConfig, out_dir: str | Path, progress: bool = True
) -> dict:
    return train(load_training_data(train_pairs, val_pairs), cfg, out_dir, progress)

"""Training of PHANES (Bercea et al., MICCAI 2023): RA's Soft-IntroVAE and the AOT-GAN inpainter,
trained jointly from scratch (docs/phanes.md).

One step (ci-ber/PHANES@c8995ed projects/phanes/PhanesTrainer.py l. 98-269) on `batch_size` slices
drawn and augmented as RA's (ra/train.py `training_batch`):
1. RA's two updates (`soft_intro_update`: the encoder's Adam step on L_E, the decoder's on L_D, RA's
   constants; l. 116-217), but for one point of L_E: the second pass's reconstructions come through
   `Phanes.ae()`, which detaches them (model_zoo/phanes.py l. 314-330), so they carry no gradient
   (ra/losses.py `detach_second`); the decoder step's reconstruction `rec` (before its update,
   l. 175) is the coarse pseudo-healthy image;
2. the inpainter's update: the anomaly mask of (x, rec) at the training threshold 0.1, its union with
   10 synthetic ellipses per slice; pred = G(masked input, mask); composite; G's loss 1 L1 + 250 style
   + 0.1 perceptual (VGG-19) of pred against x, D's smgan loss with the synthetic masks only; one
   backward each, then G's and D's Adam steps (l. 229-269). The generator's adversarial term is
   computed and never back-propagated, as the reference's.
Four Adam optimisers at lr 5e-5, default betas (l. 25-28; phanes.yaml l. 61-62), saved together as the
harness's `optimizer` (RA's `OptimizerSet`), so a resumed run restores all four and export drops them.
The synthetic masks of a step come from a CPU generator seeded by a number drawn from the training
stream, so a resumed run draws the same ones.
Validation (l. 376-378): a fixed set of slices; `val_loss` = the mean of MSE(final, x) and MSE(coarse,
x), restored with the mask threshold 0.153, a sampled code and the coarse image set to 0 outside
the brain as at scoring (restore.py). The offline variant
(`weights: random`) has no LPIPS (saliency 1 in the training mask) and no VGG: its inpainter trains on
L1 alone (the adversarial term reaches neither method's generator, and is not logged).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from patch2loc.checks.ranges import check_block
from patch2loc.errors import InputError
from patch2loc.networks import pretrained
from patch2loc.networks.inputs import ALL_SLICES
from patch2loc.training.harness import LOOP_MUST_MATCH, LoopSettings, autocast_context, check_settings
from patch2loc.networks.lpips import published_lpips
from patch2loc.methods.phanes import masks
from patch2loc.methods.phanes.aotgan import check_size
from patch2loc.methods.phanes.bounds import RANGES
from patch2loc.methods.phanes.losses import reconstruction_losses, smgan_losses, vgg_for
from patch2loc.methods.phanes.model import PHANESModel
from patch2loc.methods.phanes.restore import mask_of, restore
from patch2loc.methods.ra.train import (
    ARCHITECTURE,
    IntroVAETask,
    OptimizerSet,
    INPUTS,
    build_vae,
    check_architecture,
    check_inputs,
    soft_intro_update,
    training_batch,
)
from patch2loc.training.training_data import TrainingData, published_first, train_task
from patch2loc.run.settings import check_network

COLUMNS = ("step", "train_loss", "val_loss", "val_mse_final", "val_mse_coarse")
THRESHOLDS = ("train_threshold", "val_threshold")
RESUME_MUST_MATCH = (*ARCHITECTURE, "batch_size", "lr", "steps", "augment", "across_batch", "weights")
RESUME_MUST_MATCH += (*INPUTS, *THRESHOLDS, *LOOP_MUST_MATCH)
BLOCK = "phanes"


def check_phanes_architecture(arch: dict, where: str) -> None:
    """One line (ValueError) unless RA's network of `arch` is within bounds (train.check_architecture:
    size a multiple of 32, weight count) and the inpainter takes its size (aotgan.check_size)."""
    check_architecture(arch, where)
    try:
        check_size(arch["size"])
    except InputError:
        raise ValueError(f"{where}: size {arch['size']} is below 64 (the inpainter's dilation 8)") from None


@dataclass
class PHANESConfig(LoopSettings):
    """PHANES' settings; defaults are the reference's (docs/phanes.md)."""

    # 1,500 epochs of the reference's 711 training slices (ixi_normal_train.csv, as RA's) in batches of 8
    steps: int = 132_000
    batch_size: int = 8  # phanes.yaml l. 81
    lr: float = 5e-5  # all four Adam optimisers (phanes.yaml l. 61-62)
    size: int = 128  # the model's slice side (phanes.yaml l. 2, 35)
    width: int = 64  # RA's channels width x (1, 2, 4, 8, 8): 64, 128, 256, 512, 512 (phanes.yaml l. 27-34)
    zdim: int = 128  # phanes.yaml l. 26
    expand_transitions: bool = True  # RA's YAML quirk: 1x1 convs on the 512 -> 512 transitions (ra/model.py)
    augment: bool = True  # RA's random affine map and flip (the same IXI loader, ixi_loader.py l. 19-37)
    across_batch: bool = False  # True: the reference's mask smoothing over the batch axis (masks.smooth)
    weights: str = pretrained.IMAGENET  # imagenet: LPIPS and VGG-19 (the paper); random: neither
    method: str = "PHANES"  # PHANES-noPretrained: the offline variant (offline.py), weights random
    pretrained_home: str = pretrained.HOME
    # The deviation ablation's switches (docs/protocols.md): RA's (ra/train.py), and the mask thresholds
    # of training and validation, which the reference tuned on its own data (scoring takes each image's
    # 95th percentile, as the reference's)
    intensity: str = "clip"
    axial_range: tuple[float, float] = ALL_SLICES
    train_threshold: float = masks.TRAIN_THRESHOLD
    val_threshold: float = masks.VALIDATION_THRESHOLD

    def __post_init__(self) -> None:
        check_settings(self, "PHANES config", "phanes.device")
        check_block(asdict(self), RANGES, BLOCK, "PHANES config")  # checkpoints: the same
        pretrained.check_variant(self.weights, self.method, "PHANES")
        flags = (self.augment, self.across_batch)
        if self.batch_size < 1 or self.lr <= 0 or any(type(f) is not bool for f in flags):
            raise InputError(
                "PHANES config: batch_size and lr must be positive, augment and across_batch true or false."
            )
        check_network(check_phanes_architecture, self.architecture(), "PHANES config")
        check_inputs(self, "PHANES config")
        if not all(0.0 < t < 1.0 for t in (self.train_threshold, self.val_threshold)):
            raise InputError("PHANES config: train_threshold and val_threshold must lie between 0 and 1.")

    def architecture(self) -> dict:
        return {k: getattr(self, k) for k in ARCHITECTURE}


def published_networks(cfg: PHANESConfig) -> tuple:
    """(LPIPS network, VGG-19 features) read from the cache for `weights: imagenet`, checked (one line
    when a file is missing or altered); (None, None) for the offline variant."""
    if cfg.weights != pretrained.IMAGENET:
        return None, None
    return published_lpips(cfg.pretrained_home, BLOCK), vgg_for(cfg.weights, cfg.pretrained_home, BLOCK)


class PHANESTask(IntroVAETask):
    """The harness's view of PHANES' training (`training.harness.TrainingTask`)."""

    columns = COLUMNS

    def __init__(self, data: TrainingData, cfg: PHANESConfig, networks: tuple, device: torch.device):
        perceptual, vgg = networks
        super().__init__(data, cfg, device)
        self.model = PHANESModel(build_vae(cfg.architecture()), perceptual, cfg.intensity).to(device)
        self.vgg = None if vgg is None else vgg.to(device).eval()  # training only: never in the model
        parts = {
            "encoder": self.model.vae.encoder,
            "decoder": self.model.vae.decoder,
            "generator": self.model.generator,
            "discriminator": self.model.discriminator,
        }
        self.optimizer = OptimizerSet(**{k: torch.optim.Adam(m.parameters(), lr=cfg.lr) for k, m in parts.items()})

    def train_step(self, step: int) -> torch.Tensor:
        """RA's updates, then the inpainter's; returns the decoder step's reconstruction MSE (the
        reference's logged training loss)."""
        x, noise = training_batch(self.slices, self.cfg, self.generator, self.device)
        mask_seed = int(torch.randint(2**62, (1,), generator=self.generator, device=self.device))
        rec = soft_intro_update(
            self.model.vae, self.optimizer, x, noise, self.generator, self.scale, self.cfg.amp, detach_second=True
        ).float()
        self.inpainter_update(x, rec, torch.Generator().manual_seed(mask_seed))
        return (rec - x).pow(2).mean()

    def inpainter_update(self, x: torch.Tensor, rec: torch.Tensor, mask_generator: torch.Generator) -> None:
        """G's step on its reconstruction losses and D's on its smgan loss (PhanesTrainer.py l. 229-269)."""
        cfg, net_g, net_d = self.cfg, self.model.generator, self.model.discriminator
        synthetic = masks.synthetic_masks(len(x), cfg.size, mask_generator).to(self.device)
        anomaly = mask_of(self.model.perceptual, x, rec, cfg.train_threshold, cfg.across_batch)
        mixed = masks.union(anomaly, synthetic)
        with autocast_context(self.device, cfg.amp):
            pred = net_g(masks.masked_input(x, mixed), mixed)
            comp = masks.composite(x, pred, mixed)  # not clamped in training (PhanesTrainer.py l. 252)
            terms = reconstruction_losses(pred.float(), x, self.vgg)
            dis, _ = smgan_losses(net_d, comp, x, synthetic)  # the generator's term is never back-propagated
        self.optimizer["generator"].zero_grad(set_to_none=True)
        self.optimizer["discriminator"].zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        dis.backward()
        self.optimizer["generator"].step()
        self.optimizer["discriminator"].step()

    def evaluate(self) -> dict:
        """The reference's selection loss: per batch the mean of MSE(final, x) and MSE(coarse, x)."""
        final_mse, coarse_mse = (s / len(self.val_set) for s in self.validation_sums(self.validation_terms))
        return {"val_loss": (final_mse + coarse_mse) / 2, "val_mse_final": final_mse, "val_mse_coarse": coarse_mse}

    def validation_terms(self, x: torch.Tensor, inside: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        with autocast_context(self.device, self.cfg.amp):
            final, coarse, _ = restore(
                self.model, x, gen, self.cfg.val_threshold, inside.float(), self.cfg.across_batch
            )
        return torch.stack([F.mse_loss(final.float(), x), F.mse_loss(coarse, x)])


def train(data: TrainingData, cfg: PHANESConfig, out_dir: str | Path, progress: bool = True, networks=None) -> dict:
    """Train PHANES on stacked volumes; write last.pt, best.pt, loss.csv in `out_dir`. `networks`: the
    published (LPIPS, VGG) already read (read here when not given); the LPIPS network is saved in the
    model, the VGG is not."""
    networks = published_networks(cfg) if networks is None else networks
    return train_task(PHANESTask, data, cfg, out_dir, networks, must_match=RESUME_MUST_MATCH, progress=progress)


train_from_files = published_first(train, published_networks)

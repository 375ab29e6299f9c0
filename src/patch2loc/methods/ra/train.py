"""Training of RA (Bercea et al., MIDL 2023): a Soft-IntroVAE on healthy axial slices (docs/ra.md).

One step = `batch_size` axial slices (image x brain mask, clipped to [0, 1]) drawn uniformly, with
replacement, among the training volumes' slices that hold brain, resized to `size` x `size`
(bilinear, as the AE's), moved by the reference's random affine map and flip (augment.py), then
the reference's two updates (ci-ber/RA@9b7a255 projects/23_ra_midl/RA_Trainer.py l. 78-158): the
encoder's Adam step on L_E with the decoder frozen, then the decoder's Adam step on L_D with the
encoder frozen (losses.py), one noise batch for both. Two Adam optimisers at lr 5e-5 with PyTorch's
default betas (l. 24-25; ra.yaml l. 51-52), saved together as the harness's `optimizer`
(`OptimizerSet`), so a resumed run restores both and export drops both.
Validation: a fixed set of slices of the validation subjects; `val_loss` is the mean squared error
between the slice and its reconstruction (a sampled code, as the reference's model selection,
l. 248-296), `val_recon_error` the mean |x - reconstruction| in the brain. The loop, checkpoints,
resume and best model by validation loss are the shared harness's (`training.harness`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from patch2loc.checks.ranges import check_block
from patch2loc.errors import InputError
from patch2loc.networks import pretrained
from patch2loc.networks.inputs import ALL_SLICES, INTENSITIES, check_band
from patch2loc.methods.autoencoder.train import fixed_batches, reference_slices
from patch2loc.training.harness import LOOP_MUST_MATCH, LoopSettings, autocast_context, check_settings
from patch2loc.networks.lpips import SqueezeLPIPS, published_lpips
from patch2loc.methods.ra.augment import augment
from patch2loc.training.resume import NothingExtra
from patch2loc.methods.ra.bounds import MAX_SIZE, RANGES
from patch2loc.methods.ra.losses import decoder_objective, encoder_objective, scale_of, train_part
from patch2loc.methods.ra.model import LEVELS, RAModel, SoftIntroVAE, channels_of, parameter_count
from patch2loc.training.training_data import Pairs, TrainingData, load_training_data, train_task
from patch2loc.run.settings import check_network

COLUMNS = ("step", "train_loss", "val_loss", "val_recon_error")
ARCHITECTURE = ("size", "width", "zdim", "expand_transitions")
INPUTS = ("intensity", "axial_range")  # what the training slices are (networks/inputs.py)
RESUME_MUST_MATCH = (*ARCHITECTURE, "batch_size", "lr", "steps", "augment", "weights", *INPUTS, *LOOP_MUST_MATCH)
MAX_PARAMETERS = 500_000_000  # a network this large is a typo in a block or an edited checkpoint


def build_vae(arch: dict) -> SoftIntroVAE:
    """The Soft-IntroVAE a block or checkpoint `arch` (size, width, zdim, expand_transitions) describes."""
    return SoftIntroVAE(1, arch["zdim"], channels_of(arch["width"]), arch["size"], bool(arch["expand_transitions"]))


def check_architecture(arch: dict, where: str) -> None:
    """One line (ValueError) unless `arch` is a network this code builds within bounds: size a multiple
    of 2^5 up to MAX_SIZE, at most MAX_PARAMETERS weights (counted on the meta device)."""
    ints = [arch[k] for k in ("size", "width", "zdim")]
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in ints) or arch["size"] > MAX_SIZE:
        raise ValueError(f"{where}: size, width and zdim must be whole numbers >= 1 (size <= {MAX_SIZE})")
    if arch["size"] % 2**LEVELS:
        raise ValueError(f"{where}: size {arch['size']} must be a multiple of {2**LEVELS} (five 2x2 poolings)")
    if type(arch["expand_transitions"]) is not bool:
        raise ValueError(f"{where}: expand_transitions must be true or false")
    with torch.device("meta"):
        count = parameter_count(build_vae(arch))
    if count > MAX_PARAMETERS:
        raise ValueError(f"{where}: {count:,} weights, more than {MAX_PARAMETERS:,}; use a smaller width or size")


@dataclass
class RAConfig(LoopSettings):
    """RA's settings; defaults are the reference's (docs/ra.md)."""

    # 1,500 epochs of the reference's 711 training slices in batches of 8 (drop_last: 88 a epoch)
    steps: int = 132_000
    batch_size: int = 8  # ra.yaml l. 71
    lr: float = 5e-5  # both Adam optimisers (ra.yaml l. 51-52)
    size: int = 128  # the model's slice side (ra.yaml l. 33)
    width: int = 64  # channels width x (1, 2, 4, 8, 8): 64, 128, 256, 512, 512 (ra.yaml l. 27-32)
    zdim: int = 128  # ra.yaml l. 26
    expand_transitions: bool = True  # the YAML's 1x1 convs on the 512 -> 512 transitions (model.py)
    augment: bool = True  # random affine map and flip of each training slice (augment.py)
    weights: str = pretrained.IMAGENET  # imagenet: LPIPS-weighted map (the paper); random: the residual alone
    method: str = "RA"  # RA-noLPIPS: the offline variant (offline.py), weights random
    pretrained_home: str = pretrained.HOME
    # The deviation ablation's switches (networks/inputs.py; docs/protocols.md): the volume's whole
    # range in [0, 1] (full_range) instead of clipping at 1; training on a middle band of the brain.
    intensity: str = "clip"
    axial_range: tuple[float, float] = ALL_SLICES

    def __post_init__(self) -> None:
        check_settings(self, "RA config", "ra.device")
        check_block(asdict(self), RANGES, "ra", "RA config")  # checkpoints: the same
        pretrained.check_variant(self.weights, self.method, "RA")
        if self.batch_size < 1 or self.lr <= 0 or type(self.augment) is not bool:
            raise InputError("RA config: batch_size and lr must be positive, augment true or false.")
        check_network(check_architecture, self.architecture(), "RA config")
        check_inputs(self, "RA config")

    def architecture(self) -> dict:
        return {k: getattr(self, k) for k in ARCHITECTURE}


def check_inputs(cfg, where: str) -> None:
    """One line unless the ablation's switches of RA's or PHANES' settings are valid."""
    if cfg.intensity not in INTENSITIES:
        raise InputError(f"{where}: intensity {cfg.intensity!r} must be one of {list(INTENSITIES)}.")
    check_network(check_band, cfg.axial_range, where)


def unit_range(slices: torch.Tensor) -> torch.Tensor:
    """Normalised intensities read as the reference's [0, 1] images: clipped to [0, 1] (the 98th
    in-brain percentile is 1 after preprocessing; the decoder's sigmoid reaches no further)."""
    return slices.clamp(0.0, 1.0)


class OptimizerSet:
    """Named optimisers as the one `optimizer` the harness saves and restores: its state dict holds
    each one's, so last.pt resumes them all and export drops them all (training state, not weights)."""

    def __init__(self, **optimizers: torch.optim.Optimizer):
        self.optimizers = optimizers

    def __getitem__(self, name: str) -> torch.optim.Optimizer:
        return self.optimizers[name]

    def state_dict(self) -> dict:
        return {name: opt.state_dict() for name, opt in self.optimizers.items()}

    def load_state_dict(self, state: dict) -> None:
        if set(state) != set(self.optimizers):
            raise KeyError(f"optimizers {sorted(state)}, not {sorted(self.optimizers)}")
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state[name])


def training_batch(slices: torch.Tensor, cfg, generator: torch.Generator, device: torch.device):
    """(x, noise): `cfg.batch_size` slices drawn with replacement (moved by the reference's affine map
    and flip when `cfg.augment`) and the batch's prior noise [B, zdim], from `generator`."""
    idx = torch.randint(len(slices), (cfg.batch_size,), generator=generator, device=device)
    x = augment(slices[idx], generator) if cfg.augment else slices[idx]
    return x, torch.randn((cfg.batch_size, cfg.zdim), generator=generator, device=device)


def soft_intro_update(
    vae: SoftIntroVAE, optimizer: OptimizerSet, x, noise, generator, scale: float, amp: str, detach_second=False
):
    """RA's two updates on the batch x (RA_Trainer.py l. 78-158): the `encoder` optimiser's step on L_E
    with the decoder frozen, then the `decoder` optimiser's on L_D with the encoder frozen; returns
    the decoder step's reconstruction (detached, before its update). `detach_second`: PHANES' L_E
    (losses.encoder_objective)."""
    train_part(vae, "encoder")
    with autocast_context(x.device, amp):
        loss_e, z = encoder_objective(vae, x, noise, generator, scale, detach_second=detach_second)
    optimizer["encoder"].zero_grad(set_to_none=True)
    loss_e.backward()
    optimizer["encoder"].step()
    train_part(vae, "decoder")
    with autocast_context(x.device, amp):
        loss_d, rec = decoder_objective(vae, x, z, noise, generator, scale)
    optimizer["decoder"].zero_grad(set_to_none=True)
    loss_d.backward()
    optimizer["decoder"].step()
    return rec.detach()


class IntroVAETask(NothingExtra):
    """What the training tasks of the Soft-IntroVAE's methods (RA, PHANES) build first: the settings,
    the training slices in [0, 1], the fixed validation batches and the training generator."""

    def __init__(self, data: TrainingData, cfg: RAConfig, device: torch.device):
        self.cfg, self.device, self.scale, self.method = cfg, device, scale_of(cfg.size), cfg.method
        slices, val_slices, val_brain = reference_slices(
            data, cfg.size, device, band=cfg.axial_range, intensity=cfg.intensity
        )
        self.slices = unit_range(slices)
        self.val_set = fixed_batches(unit_range(val_slices), val_brain, cfg, device)
        self.generator = torch.Generator(device).manual_seed(cfg.seed)

    @torch.no_grad()
    def validation_sums(self, terms) -> list[float]:
        """The sums over the fixed validation batches (x, inside) of `terms(x, inside, generator)` (a 1-D
        tensor), in float64: the model in eval mode, the generator seeded with the settings' seed + 2, so
        every validation draws the same code samples."""
        self.model.eval()
        generator = torch.Generator(self.device).manual_seed(self.cfg.seed + 2)
        return sum(terms(x, inside, generator).double().cpu() for x, inside in self.val_set).tolist()


class RATask(IntroVAETask):
    """The harness's view of RA's training (`training.harness.TrainingTask`)."""

    columns = COLUMNS

    def __init__(self, data: TrainingData, cfg: RAConfig, perceptual: SqueezeLPIPS | None, device: torch.device):
        super().__init__(data, cfg, device)
        self.model = RAModel(build_vae(cfg.architecture()), perceptual, cfg.intensity).to(device)
        self.optimizer = OptimizerSet(
            encoder=torch.optim.Adam(self.model.vae.encoder.parameters(), lr=cfg.lr),
            decoder=torch.optim.Adam(self.model.vae.decoder.parameters(), lr=cfg.lr),
        )

    def train_step(self, step: int) -> torch.Tensor:
        """The encoder's update, then the decoder's; returns the decoder step's reconstruction MSE."""
        x, noise = training_batch(self.slices, self.cfg, self.generator, self.device)
        rec = soft_intro_update(self.model.vae, self.optimizer, x, noise, self.generator, self.scale, self.cfg.amp)
        return (rec.float() - x).pow(2).mean()

    def evaluate(self) -> dict:
        """Mean squared error per batch (the reference's selection) and mean |x - rec| in the brain."""
        mse, error, brain = self.validation_sums(self.validation_terms)
        return {"val_loss": mse / len(self.val_set), "val_recon_error": error / max(brain, 1.0)}

    def validation_terms(self, x: torch.Tensor, inside: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        with autocast_context(self.device, self.cfg.amp):
            diff = self.model.vae(x, gen)[0].float() - x
        return torch.stack((diff.pow(2).mean(), (diff.abs() * inside).sum(), inside.sum()))


def train(data: TrainingData, cfg: RAConfig, out_dir: str | Path, progress: bool = True) -> dict:
    """Train RA on stacked volumes; write last.pt, best.pt, loss.csv in `out_dir`. With `weights:
    imagenet` the published LPIPS network is read first (one line when missing) and saved with it."""
    perceptual = published_lpips(cfg.pretrained_home, "ra") if cfg.weights == pretrained.IMAGENET else None
    return train_task(RATask, data, cfg, out_dir, perceptual, must_match=RESUME_MUST_MATCH, progress=progress)


def train_from_files(
    train_pairs: Pairs, val_pairs: Pairs, cfg: RAConfig, out_dir: str | Path, progress: bool = True
) -> dict:
    return train(load_training_data(train_pairs, val_pairs), cfg, out_dir, progress)

"""Training of Meissen et al.'s FAE: reconstruct a frozen ResNet-18's features of healthy axial slices.

One step = `batch_size` axial slices (image x brain mask) drawn uniformly, with replacement, among
the training volumes' slices that hold brain, resized to the model's `size` x `size` grid as the
AE's (methods/autoencoder/train.py), their features reconstructed, the negative SSIM of
reconstruction and features averaged over batch, channels and pixels, and one Adam step (lr 2e-4,
no weight decay; FeliMe/feature-autoencoder@16ee46d fae/train_fae.py l. 56-57, base_config.py
l. 62-68). The whole model is in train mode while training, the extractor's batch norms included:
they normalise with the batch's statistics and their running statistics follow the MRI batches,
which the scoring then uses (train_fae.py l. 91, 155). Validation: a fixed set of slices of the
validation subjects, drawn once with a generator of its own; `val_brain_score` is the mean anomaly
map (1 - SSIM) in the brain. The loop, checkpoints, resume and best model by validation loss are
the shared harness's (`training.harness`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from patch2loc.checks.ranges import check_block
from patch2loc.errors import InputError
from patch2loc.run.settings import check_network
from patch2loc.networks import pretrained
from patch2loc.networks.inputs import ALL_SLICES, check_band
from patch2loc.methods.autoencoder.train import fixed_batches, reference_slices
from patch2loc.methods.fae.bounds import MAX_SIZE, RANGES  # one table: bounds.py
from patch2loc.methods.fae.model import FAE, HIDDEN_DIMS, anomaly_slices, fae_loss, trainable_count
from patch2loc.training.harness import LOOP_MUST_MATCH, LoopSettings, autocast_context, check_settings
from patch2loc.training.resume import NothingExtra
from patch2loc.training.training_data import TrainingData, published_first, train_task

COLUMNS = ("step", "train_loss", "val_loss", "val_brain_score")
ARCHITECTURE = ("size", "hidden_dims", "dropout")
RESUME_MUST_MATCH = (*ARCHITECTURE, "batch_size", "lr", "weight_decay", "weights", "steps", "equalise", "axial_range")
RESUME_MUST_MATCH += LOOP_MUST_MATCH
MAX_PARAMETERS = 200_000_000  # a network this large is a typo in a block or an edited checkpoint
BACKBONE = "resnet18"  # pretrained.FILES key: torchvision's IMAGENET1K_V1, what resnet18(pretrained=True) loads


def check_architecture(arch: dict, where: str) -> None:
    """One line (ValueError) unless `arch` (size, hidden_dims, dropout) is a network this code builds
    within bounds: `size` a multiple of 4 x 2^len(hidden_dims) (the features' grid halves once per
    width and the decoder doubles it back), dropout in [0, 1), at most MAX_PARAMETERS trainable
    weights (counted on the meta device: nothing allocated)."""
    size, dims = arch["size"], arch["hidden_dims"]
    if not isinstance(dims, (list, tuple)) or not dims or not all(type(d) is int and d >= 1 for d in dims):
        raise ValueError(f"{where}: hidden_dims {str(dims)[:40]} must be a list of whole numbers >= 1")
    step = 4 * 2 ** len(dims)
    if type(size) is not int or not step <= size <= MAX_SIZE or size % step:
        raise ValueError(
            f"{where}: size {size} must be a multiple of {step} up to {MAX_SIZE} (4 x 2^{len(dims)} for "
            f"{len(dims)} hidden widths), e.g. 128"
        )
    if not 0 <= float(arch["dropout"]) < 1:
        raise ValueError(f"{where}: dropout {arch['dropout']} must lie in [0, 1)")
    with torch.device("meta"):
        count = trainable_count(FAE(size, dims, float(arch["dropout"])))
    if count > MAX_PARAMETERS:
        raise ValueError(f"{where}: {count:,} weights, more than {MAX_PARAMETERS:,}; use smaller hidden_dims")


@dataclass
class FAEConfig(LoopSettings):
    """FAE's settings; defaults are the reference's (fae/configs/base_config.py; docs/fae.md)."""

    steps: int = 10000  # base_config.py l. 65-66
    batch_size: int = 32  # l. 67-68
    lr: float = 2e-4  # l. 62 (Adam, constant)
    weight_decay: float = 0.0  # l. 63-64
    size: int = 128  # l. 33-34: slices resized to size x size; features on size/4
    hidden_dims: list[int] = field(default_factory=lambda: list(HIDDEN_DIMS))  # l. 75-77
    dropout: float = 0.1  # l. 78-79
    val_every: int = 200  # the reference validates every 200 steps (l. 50-51)
    weights: str = pretrained.IMAGENET  # imagenet: torchvision's published ResNet-18; random: --random_extractor
    method: str = "FAE"  # FAE-random: the offline variant (offline.py), weights random
    pretrained_home: str = pretrained.HOME  # where the published file is read (config pretrained.home)
    # The deviation ablation's switches (networks/inputs.py; docs/protocols.md): the reference's
    # per-volume histogram equalisation (training and scoring); training on a middle band of the brain.
    equalise: bool = False
    axial_range: tuple[float, float] = ALL_SLICES

    def __post_init__(self) -> None:
        check_settings(self, "FAE config", "fae.device")
        pretrained.check_variant(self.weights, self.method, "FAE")
        check_block(asdict(self), RANGES, "fae", "FAE config")  # checkpoints: the same
        if self.batch_size < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise InputError("FAE config: batch_size and lr must be positive, weight_decay >= 0.")
        check_network(check_architecture, self.architecture(), "FAE config")
        if type(self.equalise) is not bool:
            raise InputError("FAE config: equalise must be true or false.")
        check_network(check_band, self.axial_range, "FAE config")

    def architecture(self) -> dict:
        return {k: getattr(self, k) for k in ARCHITECTURE}


def backbone_state(cfg: FAEConfig) -> dict | None:
    """The published ResNet-18 weights (pretrained.state_dict: one line when missing, altered or not a
    ResNet-18's tensors), or None for `weights: random`. Called before any volume is read."""
    if cfg.weights == pretrained.RANDOM:
        return None
    return pretrained.state_dict(BACKBONE, cfg.pretrained_home, "fae")


def prime_batch_norm(model: FAE) -> None:
    """One batch of two noise slices through the extractor in train mode, as the reference's
    constructor does when it counts the extractor's channels (feature_extractor.py l. 97-100): its
    batch norms' running statistics move 10 % towards the noise's (decayed over the training)."""
    device = next(model.parameters()).device
    with torch.no_grad():
        model.extractor.train()(torch.randn(2, 1, model.size, model.size, device=device))


class FAETask(NothingExtra):
    """The harness's view of FAE's training (`training.harness.TrainingTask`)."""

    columns = COLUMNS

    def __init__(self, data: TrainingData, cfg: FAEConfig, backbone: dict | None, device: torch.device):
        self.cfg, self.device, self.method = cfg, device, cfg.method  # the registry name in the checkpoints
        self.slices, val_slices, val_brain = reference_slices(
            data, cfg.size, device, band=cfg.axial_range, equalise=cfg.equalise
        )
        self.val_set = fixed_batches(val_slices, val_brain, cfg, device)  # the AE's: a generator of their own
        self.generator = torch.Generator(device).manual_seed(cfg.seed)
        self.model = FAE(cfg.size, cfg.hidden_dims, cfg.dropout, backbone, cfg.equalise).to(device)
        prime_batch_norm(self.model)
        trainable = [p for p in self.model.parameters() if p.requires_grad]  # Adam skips the frozen ones alike
        self.optimizer = torch.optim.Adam(trainable, lr=cfg.lr, weight_decay=cfg.weight_decay)

    @torch.no_grad()
    def evaluate(self) -> dict:
        self.model.eval()
        loss, score, brain = 0.0, 0.0, 0.0
        for x, inside in self.val_set:
            with autocast_context(self.device, self.cfg.amp):
                loss += fae_loss(*self.model(x)).item()
                score += (anomaly_slices(self.model, x) * inside).sum().item()
            brain += inside.sum().item()
        return {"val_loss": loss / len(self.val_set), "val_brain_score": score / max(brain, 1.0)}

    def train_step(self, step: int) -> torch.Tensor:
        idx = torch.randint(len(self.slices), (self.cfg.batch_size,), generator=self.generator, device=self.device)
        with autocast_context(self.device, self.cfg.amp):
            features, reconstruction = self.model(self.slices[idx])
        loss = fae_loss(features, reconstruction)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()


def train(
    data: TrainingData, cfg: FAEConfig, out_dir: str | Path, progress: bool = True, backbone: dict | None = None
) -> dict:
    """Train the FAE on stacked volumes; write last.pt, best.pt, loss.csv in `out_dir`. `backbone`:
    the published weights already read (read here when the settings ask for them and none are given)."""
    backbone = backbone_state(cfg) if backbone is None else backbone
    return train_task(FAETask, data, cfg, out_dir, backbone, must_match=RESUME_MUST_MATCH, progress=progress)


train_from_files = published_first(train, backbone_state)

"""The method registry: one line per anomaly-detection method, pure data that every layer may read
(the run layout, checkpoints, the scoring core, predict, tables) without importing an implementation.

A method is "train per (modality, fold), or nothing; then score a normalised volume (and its
brain mask) into a raw anomaly map"; its implementation is a package of `patch2loc.methods`, whose
module named here is imported on first use (`implementation`) and provides what
`patch2loc.interface` states (`MethodModule`; `TrainedModule` for a trained method). This module
imports nothing heavy: the workflow reads it to build its DAG. Adding a method:
docs/architecture.md, "Adding a method".
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from patch2loc.errors import InputError


@dataclass(frozen=True, kw_only=True)  # registry lines name every field: a reader sees which is which
class Method:
    name: str  # as in config `methods:`, tables and results/{run}/scores/{name}/
    module: str  # the module with score() [+ Settings, load(), train_from_files()]
    config: str | None = None  # its settings block in the workflow config (None: no settings)
    train_rule: str | None = None  # the rule that trains it per (modality, fold); None: not trained
    models: str = ""  # its folder under results/{run}/models/ ("": models/{modality}/fold{k} itself)
    gpu: bool = False  # its training and scoring jobs ask for a GPU (gpu=1)
    # Time limits at paper scale (cluster), from the GPU benchmark on an H200 (docs/gpu.md): a training
    # ten times its measured fp32 time (a GPU up to ten times slower), at least an hour; scoring three
    # times its measured seconds per volume (network and the CPU's median filter, plus the
    # native-space work that was not measured), in minutes per volume.
    train_minutes: int = 0  # one training job
    score_minutes: float = 0.1  # per volume (scoring shards and the healthy threshold)
    # Peak GPU memory of one training at paper scale, (fp32, bf16/fp16) in GiB rounded up, from the same
    # benchmark (its training data on the card included): the card a training job asks for (rules/train.smk).
    train_gpu_gib: tuple[float, float] = (0.0, 0.0)
    checkpoint_fields: tuple[str, ...] = ()  # what its checkpoints hold beyond the weights (checked on read)
    colour_range: tuple[float, float] | None = None  # a fixed colour scale of its scores (None: the scan's own)
    # It predicts where each patch comes from (a mean and log-variance per patch): the figures of
    # its two score terms (KDEs) and predicted Gaussians (ellipses) are drawn from its patch statistics.
    predicts_positions: bool = False
    multicontrast: bool = False  # takes C co-registered contrasts as channels (config `inputs` of several)
    pretrain: "Pretraining | None" = None  # a training of its own that its training starts from (cDDPM)
    # The published networks (networks.pretrained.FILES) its training builds on: the workflow's
    # download_weights fetches them on the login node; the trained model holds what scoring needs.
    pretrained: tuple[str, ...] = ()
    # The paper method it is the offline variant of: the same network and config block, built
    # without the published networks, under a name of its own in every table, figure and bundle.
    variant_of: str = ""
    # The module with RULES, the bounds of the settings that build its network (ranges.py's format, no
    # torch): the workflow checks its config block against them at start-up (training.blockbounds).
    bounds: str | None = None

    @property
    def trains(self) -> bool:
        return self.train_rule is not None


@dataclass(frozen=True, kw_only=True)
class Pretraining:
    """A model trained per (modality, fold) before a method's own training, which reads its best.pt."""

    name: str  # recorded in its checkpoints
    module: str  # the module with train_from_files(train_pairs, val_pairs, <method's block>, out_dir, ...)
    rule: str  # its workflow rule
    models: str  # its folder under results/{run}/models/
    train_minutes: int  # time limit of one job at paper scale (cluster)
    train_gpu_gib: tuple[float, float] = (0.0, 0.0)  # peak GPU memory (fp32, bf16/fp16), GiB, as Method's
    setting: str  # the key of the method's block that the workflow sets to the pre-training's best.pt


REGISTRY = (
    # Patch2Loc keeps the model folder and rule name that predict --from-run, profiles and docs use.
    Method(
        name="Patch2Loc",
        module="patch2loc.methods.patch2loc.method",
        config="patch2loc",
        train_rule="train_model",
        models="",
        gpu=True,
        train_minutes=120,
        train_gpu_gib=(36.1, 17.4),
        score_minutes=0.7,
        checkpoint_fields=("patch_size",),
        colour_range=(0.0, 12.0),
        predicts_positions=True,
        multicontrast=True,
    ),
    Method(
        name="DAE",
        module="patch2loc.methods.dae.method",
        bounds="patch2loc.methods.dae.bounds",
        config="dae",
        train_rule="train_dae",
        models="DAE",
        gpu=True,
        train_minutes=360,
        train_gpu_gib=(15.0, 10.5),
        score_minutes=0.45,
        multicontrast=True,
    ),
    Method(name="Thresh", module="patch2loc.methods.thresh.method", score_minutes=0.55),  # the median filter alone
    # Behrendt et al.'s diffusion models (docs/diffusion.md): one UNet, one noise, three ways to use them.
    Method(
        name="DDPM",
        module="patch2loc.methods.diffusion.ddpm",
        bounds="patch2loc.methods.diffusion.bounds",
        config="ddpm",
        train_rule="train_ddpm",
        models="DDPM",
        gpu=True,
        train_minutes=420,
        train_gpu_gib=(23.4, 18.6),
        score_minutes=0.4,
    ),
    Method(
        name="pDDPM",
        module="patch2loc.methods.diffusion.pddpm",
        bounds="patch2loc.methods.diffusion.bounds",
        config="pddpm",
        train_rule="train_pddpm",
        models="pDDPM",
        gpu=True,
        train_minutes=420,
        train_gpu_gib=(20.1, 18.6),
        score_minutes=0.55,
    ),
    Method(
        name="cDDPM",
        module="patch2loc.methods.diffusion.cddpm",
        bounds="patch2loc.methods.diffusion.bounds",
        config="cddpm",
        train_rule="train_cddpm",
        models="cDDPM",
        gpu=True,
        train_minutes=390,
        train_gpu_gib=(21.0, 19.4),
        score_minutes=0.55,  # not measured (the lease's time): pDDPM's, the larger measured diffusion model's
        pretrain=Pretraining(
            name="cDDPM-pretrain",
            module="patch2loc.methods.diffusion.pretrain",
            rule="pretrain_cddpm",
            models="cDDPM_encoder",
            train_minutes=210,
            train_gpu_gib=(6.4, 2.4),
            setting="encoder_checkpoint",
        ),
    ),
    # Baur et al.'s dense autoencoder and variational autoencoder (docs/ae-vae.md): one network, two losses.
    Method(
        name="AE",
        module="patch2loc.methods.autoencoder.ae",
        bounds="patch2loc.methods.autoencoder.bounds",
        config="ae",
        train_rule="train_ae",
        models="AE",
        gpu=True,
        train_minutes=60,
        train_gpu_gib=(5.0, 4.2),
        score_minutes=0.45,  # scoring not measured (the lease's time): the DAE's, a slice network + the median
    ),
    Method(
        name="VAE",
        module="patch2loc.methods.autoencoder.vae",
        bounds="patch2loc.methods.autoencoder.bounds",
        config="vae",
        train_rule="train_vae",
        models="VAE",
        gpu=True,
        train_minutes=60,
        train_gpu_gib=(4.9, 4.2),
        score_minutes=0.45,  # scoring not measured (the lease's time): the DAE's, a slice network + the median
    ),
    # Bercea et al.'s reversed autoencoder (docs/ra.md): a Soft-IntroVAE, its residual weighted by LPIPS.
    Method(
        name="RA",
        module="patch2loc.methods.ra.method",
        bounds="patch2loc.methods.ra.bounds",
        config="ra",
        train_rule="train_ra",
        models="RA",
        gpu=True,
        # measured on an H200: 11.8 steps/s in fp32, 132,000 steps in 3.1 h; ten times that, run as
        # successive jobs of at most a day (training/joblimit.py)
        train_minutes=1870,
        train_gpu_gib=(6.4, 4.2),  # measured on an H200 (fp32, bf16)
        score_minutes=0.6,  # 1.4 s a volume measured on an H200 (the core with its median); the metrics on the CPU
        pretrained=("squeezenet1_1", "lpips_squeeze"),
    ),
    Method(
        name="RA-noLPIPS",
        module="patch2loc.methods.ra.offline",
        bounds="patch2loc.methods.ra.bounds",
        config="ra",
        train_rule="train_ra_nolpips",
        models="RA-noLPIPS",
        gpu=True,
        train_minutes=1940,  # measured on an H200: 11.3 steps/s in fp32, 3.2 h; ten times that
        train_gpu_gib=(4.8, 4.2),  # measured on an H200 (fp32, bf16)
        score_minutes=0.4,  # 1.0 s a volume measured on an H200; the metrics on the CPU
        variant_of="RA",
    ),
    # Bercea et al.'s pseudo-healthy restoration (docs/phanes.md): RA's Soft-IntroVAE, masks, an AOT-GAN inpainter.
    Method(
        name="PHANES",
        module="patch2loc.methods.phanes.method",
        bounds="patch2loc.methods.phanes.bounds",
        config="phanes",
        train_rule="train_phanes",
        models="PHANES",
        gpu=True,
        # measured on an H200: 3.5 steps/s in fp32, 132,000 steps in 10.6 h; ten times that, as
        # successive jobs of at most a day (training/joblimit.py)
        train_minutes=6330,
        train_gpu_gib=(8.5, 8.5),  # measured on an H200 in fp32; bf16/fp16 not measured: fp32's
        score_minutes=0.8,  # 1.1 s a volume measured on an H200; the metrics on the CPU
        pretrained=("squeezenet1_1", "lpips_squeeze", "vgg19"),
    ),
    Method(
        name="PHANES-noPretrained",
        module="patch2loc.methods.phanes.offline",
        bounds="patch2loc.methods.phanes.bounds",
        config="phanes",
        train_rule="train_phanes_nopretrained",
        models="PHANES-noPretrained",
        gpu=True,
        train_minutes=3930,  # ten times 6.5 h measured on an H200 in fp32 (5.6 steps/s)
        train_gpu_gib=(8.5, 8.5),  # 8.4 measured on an H200 in fp32; bf16/fp16 not measured: fp32's
        score_minutes=0.6,  # 1.4 s a volume measured on an H200; the metrics on the CPU
        variant_of="PHANES",
    ),
    # Meissen et al.'s structural feature autoencoder (docs/fae.md): an AE on a frozen ResNet-18's features.
    Method(
        name="FAE",
        module="patch2loc.methods.fae.method",
        bounds="patch2loc.methods.fae.bounds",
        config="fae",
        train_rule="train_fae",
        models="FAE",
        gpu=True,
        train_minutes=60,  # measured on an H200: 95 steps/s, 10,000 steps in 2 min; at least an hour
        train_gpu_gib=(4.2, 4.2),  # measured on an H200 in fp32; bf16/fp16 not measured: fp32's
        score_minutes=0.45,  # 0.15 s a volume measured on an H200; the metrics on the CPU
        pretrained=("resnet18",),
    ),
    Method(
        name="FAE-random",
        module="patch2loc.methods.fae.offline",
        bounds="patch2loc.methods.fae.bounds",
        config="fae",
        train_rule="train_fae_random",
        models="FAE-random",
        gpu=True,
        train_minutes=60,  # measured on an H200: 85 steps/s, 2 min; at least an hour
        train_gpu_gib=(4.2, 4.2),  # measured on an H200 in fp32; bf16/fp16 not measured: fp32's
        score_minutes=0.45,  # 0.16 s a volume measured on an H200; the metrics on the CPU
        variant_of="FAE",
    ),
)
METHODS = {m.name: m for m in REGISTRY}
TRAINED = tuple(m.name for m in REGISTRY if m.trains)  # the methods predict applies and export bundles
# The method train, predict and export use when none is named (every checkpoint records its own).
DEFAULT_METHOD = REGISTRY[0].name
# The intensity baseline the other methods are compared against (the demo's checks, the sensitivity maps).
BASELINE = METHODS["Thresh"].name


def run_methods(config: dict) -> list[str]:
    """The methods a workflow config runs (the rules' RUN_METHODS, the rehearsal's checks): its
    `methods`, else every method whose settings block it has (or that needs none)."""
    return list(config.get("methods") or [m.name for m in REGISTRY if m.config in (None, *config)])


def get(name: str) -> Method:
    if name not in METHODS:
        raise InputError(f"unknown method {name!r} (config `methods`); known: {', '.join(METHODS)}.")
    return METHODS[name]


def require_trained(name: str, flag: str, action: str) -> Method:
    """`name` as a method with models (predict, export); one line otherwise, naming `flag`."""
    method = get(name)
    if not method.trains:
        raise InputError(
            f"{flag} {name}: {name} is not a trained method (it needs no model), so there is no model "
            f"to {action}. Use {' or '.join(TRAINED)}."
        )
    return method


def implementation(name: str) -> ModuleType:
    """The module that trains, loads and scores `name` (imported on first use)."""
    return importlib.import_module(get(name).module)

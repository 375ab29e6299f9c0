"""The competitors at the paper's settings (config/config.yaml): training steps/s per precision, peak
memory, the paper's training length per fold that follows, and seconds per scored volume through the
workflow's own path (a checkpoint written by the method's training, loaded, scored by the core)."""

from __future__ import annotations

import tempfile

import numpy as np
import torch

from gpu.common import Sizes, brains, guarded, paper_config, peak_gib, reset_peak, seconds, rates_per_variant
from gpu.published import stand_in_home
from patch2loc.registry import METHODS, implementation
from patch2loc.methods.autoencoder import train as ae_train
from patch2loc.methods.dae import train as dae_train
from patch2loc.methods.dae.noise import noise_cells
from patch2loc.methods.diffusion import pretrain, train as diffusion_train
from patch2loc.networks import pretrained
from patch2loc.methods.fae import train as fae_train
from patch2loc.networks.lpips import published_lpips
from patch2loc.methods.phanes import train as phanes_train
from patch2loc.methods.ra import train as ra_train
from patch2loc.training.training_data import TrainingData
from patch2loc.run.settings import config_from_dict
from patch2loc.evaluation.dataset.pipeline import pipelined
from patch2loc.scoring.core import ScanSettings, finish_scan, score_raw, score_scan

PRECISIONS = ("none", "bf16", "fp16")  # every trained method's `amp`


def _dae_task(data: TrainingData, cfg, device):
    grid = data.train_images.shape[-3:]
    cells = tuple(noise_cells(grid[a], data.spacing[a], cfg.noise_cell_mm) for a in (0, 1))
    return dae_train.DAETask(data, cfg, cells, device)


def _diffusion_task(data: TrainingData, cfg, device):
    return diffusion_train.DiffusionTask(data, cfg, diffusion_train.frequency_px(cfg, data.spacing), device)


def _ra_task(data: TrainingData, cfg, device):
    perceptual = published_lpips(cfg.pretrained_home, "ra") if cfg.weights == pretrained.IMAGENET else None
    return ra_train.RATask(data, cfg, perceptual, device)


def _phanes_task(data: TrainingData, cfg, device):
    return phanes_train.PHANESTask(data, cfg, phanes_train.published_networks(cfg), device)


def _fae_task(data: TrainingData, cfg, device):
    return fae_train.FAETask(data, cfg, fae_train.backbone_state(cfg), device)


# name -> (its training task, its trainer): the same classes its workflow rule runs; a method on
# published networks reads stand-ins of them (gpu/published.py), its offline variant none.
FAMILIES = {
    "DAE": (_dae_task, dae_train.train),
    "DDPM": (_diffusion_task, diffusion_train.train),
    "pDDPM": (_diffusion_task, diffusion_train.train),
    "cDDPM": (_diffusion_task, diffusion_train.train),
    "AE": (ae_train.AutoencoderTask, ae_train.train),
    "VAE": (ae_train.AutoencoderTask, ae_train.train),
    "RA": (_ra_task, ra_train.train),
    "RA-noLPIPS": (_ra_task, ra_train.train),
    "PHANES": (_phanes_task, phanes_train.train),
    "PHANES-noPretrained": (_phanes_task, phanes_train.train),
    "FAE": (_fae_task, fae_train.train),
    "FAE-random": (_fae_task, fae_train.train),
}
PRETRAIN = "cDDPM-pretrain"
# The demo-sized stand-ins of a tiny run (a CPU test): the paper's networks, narrower.
TINY = {"width": 8, "encoder": "resnet18", "decoder_width": 128, "size": 16, "bottleneck": 4, "patch_size": 8}
# Blocks whose networks need more than TINY gives (RA's five poolings, PHANES' inpainter, FAE's feature grid).
TINY_BLOCKS = {
    "ra": {"size": 32, "width": 4, "zdim": 8},
    "phanes": {"size": 64, "width": 2, "zdim": 8},
    "fae": {"size": 64, "hidden_dims": [8, 12, 16, 24]},
}


def settings(name: str, sizes: Sizes, device: torch.device, amp: str, **extra):
    """The method's config dataclass from the paper config's block (cDDPM's pre-training: its block
    with the cDDPM's encoder and rescale, as the workflow gives it)."""
    paper = paper_config()
    if name == PRETRAIN:
        block, cls = {**paper["cddpm"]["pretrain"], "encoder": paper["cddpm"]["encoder"]}, pretrain.PretrainConfig
        block["rescale"] = paper["cddpm"]["rescale"]
    else:
        block, cls = dict(paper[METHODS[name].config]), implementation(name).Settings
    block = {k: v for k, v in block.items() if k != "threads"}
    if sizes.tiny:
        block.update({k: v for k, v in TINY.items() if k in block or (k == "encoder" and name == PRETRAIN)})
        block.update(batch_size=2, rescale=1) if "rescale" in block else block.update(batch_size=2)
        block.update({"timesteps": 20, "test_steps": [10]} if "timesteps" in block else {})
        block.update(TINY_BLOCKS.get(METHODS.get(name, METHODS["cDDPM"]).config, {}))
    if "pretrain" in block:  # cDDPM without its pre-trained encoder: the same network, the same time
        block["pretrain"] = None
    published = METHODS[name].pretrained if name in METHODS else ()
    if published:  # the paper method: its published networks' stand-ins
        block["pretrained_home"] = stand_in_home(tuple(published))
    block.update(amp=amp, device=str(device), **extra)
    return config_from_dict(cls, block, f"{name} (paper config)")


def task_of(name: str, data: TrainingData, sizes: Sizes, device: torch.device, amp: str):
    torch.manual_seed(0)
    if name == PRETRAIN:
        return pretrain.PretrainTask(data, settings(name, sizes, device, amp), device)
    return FAMILIES[name][0](data, settings(name, sizes, device, amp), device)


# A CPU's emulated half precision makes PHANES' VGG-19 loss minutes a step: a tiny run times fp32 alone.
TINY_PRECISIONS = {"PHANES": ("none",), "PHANES-noPretrained": ("none",)}


def rates(name: str, data: TrainingData, sizes: Sizes, device: torch.device, precisions=PRECISIONS) -> dict:
    """Steps/s, peak memory and the paper's training length (hours) per precision."""
    steps = settings(name, sizes, device, "none").steps
    if sizes.tiny:
        precisions = [p for p in precisions if p in TINY_PRECISIONS.get(name, precisions)]
    make = lambda amp: task_of(name, data, sizes, device, amp)  # noqa: E731
    return {"paper_steps": steps, **rates_per_variant(name, precisions, make, steps, sizes, device)}


def trained(name: str, data: TrainingData, sizes: Sizes, device: torch.device):
    """The model a scoring job loads: one training step written as a checkpoint by the method's
    trainer, loaded by its `load`."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = settings(name, sizes, device, "none", steps=1, val_every=1, val_batches=1)
        FAMILIES[name][1](data, cfg, tmp, progress=False)
        return implementation(name).load(f"{tmp}/best.pt", device)[0]


def scoring(name: str, data: TrainingData, sizes: Sizes, device: torch.device, volume, mask) -> dict:
    """Seconds per volume (and peak memory) of the model a scoring job loads (`trained`), scored by
    the core with the median filter (on the GPU where there is one), one volume alone and as a job
    streams them (`streamed`)."""
    model = trained(name, data, sizes, device)
    run = ScanSettings(median_size=paper_config()["heatmap"]["median_size"], device=str(device))
    score_scan(name, [model], volume, mask, run)  # warm-up: cuDNN's choice of kernels
    reset_peak(device)
    scored, sec = seconds(lambda: score_scan(name, [model], volume, mask, run), device)
    row = {"seconds_per_volume": sec, "model_seconds": scored.seconds, "peak_gib": peak_gib(device)}
    row.update(streamed(name, model, volume, mask, run, device, sizes.streamed))
    print(
        f"{name:15s} scoring: {sec:6.2f} s/volume (the network {scored.seconds:.2f} s), streamed "
        f"{row['streamed_s_per_volume']:.2f} s/volume (network {row['streamed_model_seconds']:.2f}), peak {row['peak_gib']} GiB",
        flush=True,
    )
    return row


def streamed(name: str, model, volume, mask, run: ScanSettings, device: torch.device, volumes: int) -> dict:
    """Seconds per volume held by a scoring job's device stage: `volumes` volumes through the job's
    pipeline, each one's median filter on a stream of its own beside the next one's network (reading
    and grading left out: a job's CPU threads and graders run them beside), and the networks' mean."""
    nets = []

    def score(i, case):
        scored = score_raw(name, [model], volume, mask, run)
        nets.append(scored.seconds)
        return scored

    _, sec = seconds(
        lambda: pipelined(
            range(volumes),
            lambda i: None,
            score,
            lambda i, c, s: None,
            finish=lambda i, c, s: finish_scan(s, mask, run),
        ),
        device,
    )
    return {"streamed_s_per_volume": sec / volumes, "streamed_model_seconds": sum(nets) / volumes}


def paper_data(sizes: Sizes, subjects: int | None = None) -> TrainingData:
    """The paper's number of training subjects (synthetic brains), or `subjects`, and two validation ones."""
    images, masks = brains((subjects or sizes.subjects) + 2, sizes.grid)
    ids = {"train": [f"t{i}" for i in range(len(images) - 2)], "val": ["v0", "v1"]}
    return TrainingData(images[:-2], masks[:-2], images[-2:], masks[-2:], ids, (1.0, 1.0, 1.0))


def competitors(
    sizes: Sizes,
    device: torch.device,
    names: list[str],
    record: dict,
    deadline: float,
    save,
    measures=("training", "scoring"),
    precisions=PRECISIONS,
) -> None:
    """Every named method's rates and scoring into record[name]; a failure or the time budget stops
    one method, not the others."""
    # a scoring's speed does not depend on what the one-step model was trained on: a few subjects do
    data = paper_data(sizes, None if "training" in measures else 4)
    volume, mask = np.ascontiguousarray(data.val_images[-1]), data.val_masks[-1]
    for name in names:
        row = record.setdefault(name, {})
        if "training" in measures:
            guarded("training", lambda: rates(name, data, sizes, device, precisions), row, deadline)
        if name != PRETRAIN and "scoring" in measures:
            guarded("scoring", lambda: scoring(name, data, sizes, device, volume, mask), row, deadline)
        save()

"""Patch2Loc as the workflow and predict call a method (see `patch2loc.registry`): train, load, score."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

from patch2loc.training.binding import workflow_trainer
from patch2loc.methods.patch2loc import train as p2l_train
from patch2loc.methods.patch2loc.model import load_model as load
from patch2loc.methods.patch2loc.patch_size import patch_size_for
from patch2loc.scoring.protocol import SHARED as REFERENCE_PROTOCOL  # its authors' evaluation (docs/protocols.md)
from patch2loc.training.train_memory import Footprint

Settings = p2l_train.TrainConfig  # its config block (`patch2loc:`)
train_from_files = workflow_trainer(Settings, p2l_train.train_from_files)
__all__ = ["REFERENCE_PROTOCOL", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs
ACTIVATION = 128  # bytes per patch pixel: ResNet-18's first convolution and its batch norm (64 channels at P/2)


@dataclass(frozen=True)
class ScoreOptions:
    """How Patch2Loc scores a volume densely: config `heatmap:` in the workflow, predict's flags."""

    stride: int = 1  # in-plane stride of the patch centres (> 1: upsampled bilinearly)
    batch_size: int = 8192  # patches per forward pass
    amp: str = "auto"  # the encoder's precision
    centres: str = "dilated"  # which centres are run: dilated (brain + median_size // 2) | mask | all
    compile: bool = False  # on a GPU: the encoder compiled by torch.compile (needs Triton and a C compiler)

    @classmethod
    def of(cls, options) -> "ScoreOptions":
        """Its options out of the scoring options every method is given (the others ignored)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in known and v is not None})


def score(model, image, mask, settings) -> dict:
    """The dense maps of a normalised volume (before the core's median filter and mask): the score,
    the patches run and, for the patch statistics, the score's two terms and the predicted means
    and log-variances. `settings` is `patch2loc.scoring.ScanSettings`."""
    from patch2loc.methods.patch2loc.heatmap import score_volume

    opts = ScoreOptions.of(settings.options)
    res = score_volume(
        model,
        image,
        mask,
        stride=opts.stride,
        batch_size=opts.batch_size,
        device=settings.device,
        amp=opts.amp,
        region=opts.centres,
        margin=settings.median_size // 2,
        return_predictions=settings.patch_maps,
        progress=settings.progress,
        compile=opts.compile,
    )
    maps = {"score": res.score, "patches": res.n_patches}
    if settings.patch_maps:
        maps.update(log_error=res.log_error, log_variance=res.log_variance, mean=res.mean, logvar=res.logvar)
    return maps


def activation_bytes(grid: tuple[int, int, int], options: dict, patch_size: int | None) -> int:
    """What one forward pass holds while scoring a volume of `grid` (predict's memory budget,
    predict/budget.py): a batch of patches, at most the centres there are; without a checkpoint's
    patch size yet, the paper's 1/8 of the slice side."""
    opts = ScoreOptions.of(options)
    patch = patch_size or patch_size_for(max(grid[0], grid[1]))
    patches = min(opts.batch_size, math.ceil(math.prod(grid) / opts.stride**2))
    return patches * patch**2 * ACTIVATION


def training_footprint(cfg, config: dict, grid, channels: int) -> Footprint:
    """What one training step holds beside the data (training/train_memory.py): its patches'
    activations (ResNet-18's first layers dominate); the volumes themselves go to the device."""
    patch = cfg.patch_size or patch_size_for(grid[0])
    return Footprint(sample=patch * patch * ACTIVATION * channels, batch=cfg.patches_per_step)

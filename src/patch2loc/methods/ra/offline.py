"""RA-noLPIPS, RA's offline variant (docs/ra.md): the same Soft-IntroVAE, block `ra:` and training,
without the published SqueezeNet and LPIPS heads, so its map is the CLAHE residual alone; shown
under its own name everywhere (registry `variant_of`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from patch2loc.methods.ra import train as ra_train
from patch2loc.methods.ra.method import REFERENCE_PROTOCOL, RANGES, ScoreOptions, activation_bytes, score
from patch2loc.methods.ra.method import training_footprint
from patch2loc.methods.ra.score import load_model
from patch2loc.networks.pretrained import RANDOM
from patch2loc.training.binding import workflow_trainer

__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs


@dataclass
class RAnoLPIPSConfig(ra_train.RAConfig):
    """RA's block `ra:` built without the published SqueezeNet and LPIPS heads."""

    method: str = "RA-noLPIPS"  # in its checkpoints: no table, figure or bundle shows it under the paper's name
    weights: str = RANDOM


Settings = RAnoLPIPSConfig
load = partial(load_model, name=Settings.method)  # refuses a checkpoint of another name
train_from_files = workflow_trainer(Settings, ra_train.train_from_files)

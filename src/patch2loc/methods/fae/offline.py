"""FAE-random, FAE's offline variant (docs/fae.md): the same feature autoencoder, block `fae:` and
training on a randomly initialised, frozen ResNet-18 (the reference's `--random_extractor`),
without the published file; shown under its own name everywhere (registry `variant_of`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from patch2loc.methods.fae import train as fae_train
from patch2loc.methods.fae.method import REFERENCE_PROTOCOL, RANGES, ScoreOptions, activation_bytes, score
from patch2loc.methods.fae.method import training_footprint
from patch2loc.methods.fae.score import load_model
from patch2loc.networks.pretrained import RANDOM
from patch2loc.training.binding import workflow_trainer

__all__ = ["REFERENCE_PROTOCOL", "RANGES", "ScoreOptions", "Settings", "activation_bytes", "load", "score"]
__all__ += ["train_from_files", "training_footprint"]  # what its training needs


@dataclass
class FAErandomConfig(fae_train.FAEConfig):
    """FAE's block `fae:` on a randomly initialised, frozen ResNet-18."""

    method: str = "FAE-random"  # in its checkpoints: no table, figure or bundle shows it under the paper's name
    weights: str = RANDOM


Settings = FAErandomConfig
load = partial(load_model, name=Settings.method)  # refuses a checkpoint of another name
train_from_files = workflow_trainer(Settings, fae_train.train_from_files)

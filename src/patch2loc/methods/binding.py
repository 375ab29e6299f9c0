"""Methods as the workflow calls them (see `patch2loc.registry`): `workflow_trainer` turns a config
block into a method's settings for its trainer; `bind_family` binds the AE/VAE and the three
diffusion models (one config dataclass per registry name) to their family's shared train and score
modules, the same way (one place, so the families cannot drift apart); `offline_variant` binds the
variant of a method built on published networks that runs without them (FAE-random, ...)."""

from __future__ import annotations

import dataclasses

from patch2loc.methods.pretrained import RANDOM
from patch2loc.run.settings import config_from_dict


def bind_family(config_cls, score_module, train_module) -> tuple:
    """(Settings, load, score, train_from_files) of the model `config_cls` configures, as a method
    module has them: `Settings` is `config_cls` (the dataclass of its config block), and the name
    written into its checkpoints is the default of its `method` field."""
    name = config_cls.__dataclass_fields__["method"].default

    def load(checkpoint, device="cpu"):
        return score_module.load_model(checkpoint, device, name)

    def score(model, image, mask, cfg) -> dict:
        """Raw anomaly map of a normalised volume (before the shared median filter and mask)."""
        return {"score": score_module.anomaly_map(model, image, mask, cfg.device)}

    return config_cls, load, score, workflow_trainer(config_cls, train_module.train_from_files)


def workflow_trainer(config_cls, train_pairs):
    """A method's `train_from_files` as the workflow and `patch2loc train --method` call it: its
    config block (with `threads`) plus the modality -> `config_cls`, then
    `train_pairs(train, val, cfg, out_dir, progress)`."""

    def train_from_files(train, val, settings: dict, out_dir, *, modality: str, threads: int, progress: bool = True):
        block = {k: v for k, v in settings.items() if k != "threads"}
        cfg = config_from_dict(config_cls, {**block, "num_threads": threads, "modality": modality}, config_cls.__name__)
        return train_pairs(train, val, cfg, out_dir, progress)

    return train_from_files


def offline_variant(name: str, settings_cls, train_pairs, load_model) -> tuple:
    """(Settings, load, train_from_files) of `name`, the offline variant of the method whose config
    dataclass is `settings_cls` (the registry's `variant_of`): the same block and network, `weights`
    random, and `name` in its checkpoints (`load_model(checkpoint, device, name)` checks it), so no
    table, figure or bundle can show it under the paper's name."""
    fields = [("method", str, dataclasses.field(default=name)), ("weights", str, dataclasses.field(default=RANDOM))]
    settings = dataclasses.make_dataclass(name.replace("-", "") + "Config", fields, bases=(settings_cls,))

    def load(checkpoint, device="cpu"):
        return load_model(checkpoint, device, name)

    return settings, load, workflow_trainer(settings, train_pairs)

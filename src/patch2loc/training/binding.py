"""Methods as the workflow calls them (see `patch2loc.registry`): `workflow_trainer` turns a config
block into a method's settings for its trainer; `bind_family` binds a config dataclass (one per
registry name: the AE/VAE, the three diffusion models, FAE, RA, PHANES and their offline variants)
to its package's train and score modules, the same way (one place, so they cannot drift apart); `map_scorer` is the `score`
of a method whose map is its `anomaly_map`."""

from __future__ import annotations

from patch2loc.run.settings import config_from_dict


def bind_family(config_cls, score_module, train_module) -> tuple:
    """(Settings, load, score, train_from_files) of the model `config_cls` configures, as a method
    module has them: `Settings` is `config_cls` (the dataclass of its config block), and the name
    written into its checkpoints is the default of its `method` field."""
    name = config_cls.__dataclass_fields__["method"].default

    def load(checkpoint, device="cpu"):
        return score_module.load_model(checkpoint, device, name)

    return (
        config_cls,
        load,
        map_scorer(score_module.anomaly_map),
        workflow_trainer(config_cls, train_module.train_from_files),
    )


def map_scorer(anomaly_map):
    """A method's `score` around its `anomaly_map(model, image, mask, device)`: the raw map of a
    normalised volume (before the core's median filter and mask), for a method with no other maps."""

    def score(model, image, mask, settings) -> dict:
        return {"score": anomaly_map(model, image, mask, settings.device)}

    return score


def workflow_trainer(config_cls, train_pairs):
    """A method's `train_from_files` as the workflow and `patch2loc train --method` call it: its
    config block (with `threads`) plus the modality -> `config_cls`, then
    `train_pairs(train, val, cfg, out_dir, progress)`."""

    def train_from_files(train, val, settings: dict, out_dir, *, modality: str, threads: int, progress: bool = True):
        block = {k: v for k, v in settings.items() if k != "threads"}
        cfg = config_from_dict(config_cls, {**block, "num_threads": threads, "modality": modality}, config_cls.__name__)
        return train_pairs(train, val, cfg, out_dir, progress)

    return train_from_files

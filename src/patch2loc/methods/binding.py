"""A model family's methods as the workflow calls them (see `patch2loc.methods`): the AE/VAE and the
three diffusion models each bind one config dataclass per registry name to their shared train and
score modules, the same way (one place, so the families cannot drift apart)."""

from __future__ import annotations

from patch2loc.methods.harness import workflow_trainer


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

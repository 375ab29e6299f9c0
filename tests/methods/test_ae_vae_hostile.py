"""The AE's and VAE's settings in a checkpoint (a bundle's fold, a run's best.pt, --checkpoint) are held to
the same bounds as the workflow's `ae:`/`vae:` blocks (autoencoder/bounds.py, checked at start-up) before the network
is built, and, on the CPU, what scoring a batch of slices at the checkpoint's own size and width holds is
within the memory budget. Before, the budget assumed the paper's 128-pixel grid whatever the checkpoint
said: a size of 1024 meant 17 GB of activations on a 16 x 16 scan, and a seed of 2**80 crashed scoring."""

from __future__ import annotations

from pathlib import Path

import pytest

from patch2loc.errors import InputError
from patch2loc.registry import implementation
from patch2loc.methods.autoencoder.model import DenseAutoencoder
from patch2loc.methods.autoencoder.variants import AEConfig, VAEConfig
from patch2loc.run.checkpoint import save_checkpoint
from tests.helpers.checkpoints import as_written
from tests.helpers.safety import SHAPE, make_case, predict_argv, refused

ARCH = {"size": 16, "width": 4, "bottleneck": 4, "latent": 8, "dropout": 0.1}


def _checkpoint(path: Path, method: str = "AE", **change) -> Path:
    config = {**ARCH, "variational": method == "VAE", "seed": 3141, "volume_shape": list(SHAPE), "modality": "T1"}
    config.update({"kl_weight": 1.0} if method == "VAE" else {})
    config.update(change)
    arch = {k: config[k] for k in ("size", "width", "bottleneck", "latent", "dropout", "variational")}
    try:
        weights = DenseAutoencoder(**arch).state_dict()
    except (TypeError, ValueError):  # settings no network has: the tiny one's weights
        weights = DenseAutoencoder(**{**ARCH, "variational": method == "VAE"}).state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, as_written({"model": weights, "config": config}, method))
    return path


@pytest.mark.parametrize("method", ["AE", "VAE"])
def test_the_tiny_checkpoints_load(tmp_path, method):
    model, ckpt = implementation(method).load(str(_checkpoint(tmp_path / "best.pt", method)))
    assert model.size == 16 and ckpt["config"]["seed"] == 3141


@pytest.mark.parametrize(
    "method, change, says",
    [
        ("AE", {"seed": 2**80}, "config.seed 1208925819614629174706176 must be a whole number from 0 to"),
        ("AE", {"seed": -1}, "config.seed -1 must be a whole number from 0"),
        ("AE", {"size": 2048, "bottleneck": 8}, "config.size 2048 must be a whole number from 2 to 1024"),
        ("AE", {"bottleneck": 10**6}, "config.bottleneck 1000000 must be a whole number from 1 to 512"),
        ("AE", {"latent": "8"}, "config.latent 8 must be a whole number"),
        ("AE", {"variational": "no"}, "config.variational no must be true or false"),
        ("VAE", {"kl_weight": float("nan")}, "config.kl_weight nan must be a number from 0 to 1e+06"),
    ],
)
def test_a_setting_out_of_range_is_one_line_before_the_network_is_built(tmp_path, method, change, says):
    path = _checkpoint(tmp_path / "best.pt", method, **change)
    with pytest.raises(InputError, match=f"best.pt: not a usable {method} checkpoint: {says}".replace("+", r"\+")):
        implementation(method).load(str(path))


def test_a_large_model_grid_is_held_to_the_memory_budget_on_the_cpu(tmp_path):
    """size 1024 (width 32): 32 slices x 1024^2 pixels x 16 bytes x 32 filters = 17 GB, on any scan."""
    path = _checkpoint(tmp_path / "best.pt", size=1024, width=32, bottleneck=8)
    with pytest.raises(InputError, match=r"scoring with it on the CPU \(config size, width, volume_shape\)"):
        implementation("AE").load(str(path))


def test_predict_refuses_such_a_checkpoint_in_one_line_with_nothing_written(tmp_path, capsys):
    case = make_case(tmp_path / "in")
    path = _checkpoint(tmp_path / "in" / "big.pt", size=1024, width=32, bottleneck=8)
    argv = predict_argv(case, tmp_path / "out" / "h.nii.gz", "--method", "AE", ckpt=path)
    refused(argv, "more than the memory budget", tmp_path, capsys)


@pytest.mark.parametrize("cls", [AEConfig, VAEConfig])
def test_the_workflow_block_is_held_to_the_same_bounds(cls):
    base = {"steps": 4, "batch_size": 4, "lr": 1e-3, **ARCH, "val_every": 2, "val_batches": 1}
    with pytest.raises(InputError, match="seed"):
        cls(**{**base, "seed": 2**80})
    with pytest.raises(InputError, match="bottleneck"):
        cls(**{**base, "bottleneck": 10**6})


def test_a_dae_noise_finer_than_a_pixel_is_refused_before_training(tmp_path):
    """dae.noise_cell_mm 1e-6 asked for a coarse noise of 10^8 x 10^8 nodes per slice; now the block's
    bounds (0.2 to 1000 mm) and, on the training grid, at most one node per pixel."""
    import numpy as np

    from patch2loc.methods.dae.train import DAEConfig, train
    from patch2loc.training.training_data import TrainingData

    base = dict(steps=2, batch_size=2, lr=1e-3, width=4, val_every=1, val_batches=1, device="cpu", num_threads=1)
    with pytest.raises(InputError, match="noise_cell_mm 1e-06 must be a number from 0.2 to 1000"):
        DAEConfig(**base, noise_cell_mm=1e-6)
    images, masks = np.ones((2, 16, 16, 4), np.float32), np.ones((2, 16, 16, 4), bool)
    data = TrainingData(images, masks, images[:1], masks[:1], {"train": ["a", "b"], "val": ["a"]}, (6.0, 6.0, 6.0))
    with pytest.raises(InputError, match="finer than the training grid's 6 mm pixels"):
        train(data, DAEConfig(**base, noise_cell_mm=0.5), tmp_path / "dae", progress=False)
    assert not (tmp_path / "dae").exists()

"""A training's memory (data, network with its gradients and Adam state, activations at the batch) estimated
before its first step (training/train_memory.py) and held to the machine's available memory and the job's
mem_mb: a block within its bounds that cannot fit (an AE of size 1024 at batch 128, each method's largest
sizes) is one line naming the estimate, the limit and the settings to lower, and nothing is built or
written; a small block trains. Before, such a block started and grew until the machine ran out."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.hostile_round6_files import SHAPE, training_lists

from patch2loc.errors import InputError
from patch2loc.registry import METHODS, implementation

# Each trained method's block at (or near) its bounds: valid settings whose training cannot fit in 48 GB.
BIG = {
    "Patch2Loc": {"patches_per_step": 65536, "patch_size": 32},
    "DAE": {"batch_size": 1024, "width": 512},
    "DDPM": {"batch_size": 1024, "width": 512},
    "pDDPM": {"batch_size": 1024, "width": 512, "patch_size": 8},
    "cDDPM": {"batch_size": 1024, "width": 512},
    "AE": {"batch_size": 128, "size": 1024},
    "VAE": {"batch_size": 128, "size": 1024},
    "RA": {"batch_size": 512, "size": 1024},
    "RA-noLPIPS": {"batch_size": 512, "size": 1024},
    "PHANES": {"batch_size": 512, "size": 1024},
    "PHANES-noPretrained": {"batch_size": 512, "size": 1024},
    "FAE": {"batch_size": 512, "size": 1024},
    "FAE-random": {"batch_size": 512, "size": 1024},
}


@pytest.fixture()
def pairs(tmp_path):
    from patch2loc.cli.train import read_pairs

    data = training_lists(tmp_path / "data")
    return read_pairs(data / "train.csv"), read_pairs(data / "val.csv")


def test_every_trained_method_has_a_crafted_block():
    assert sorted(BIG) == sorted(name for name, entry in METHODS.items() if entry.trains)


def _never_built(*args, **kwargs):
    raise AssertionError("the training's task was built before its memory was checked")


# The methods built on published networks refuse to train without them (data/pretrained): their blocks
# are checked as the harness checks them once the networks are there (test below).
PUBLISHED = ("FAE", "PHANES", "RA")


def _line_names_the_block(method: str, line: str) -> None:
    assert line.startswith(f"{method} settings: training needs about") and "\n" not in line, line
    assert "activations at the batch" in line and "optimiser state" in line and "Lower " in line
    assert any(key in line.split("Lower ")[1] for key in BIG[method]), line


@pytest.mark.parametrize("method", sorted(set(BIG) - set(PUBLISHED)))
def test_a_block_that_cannot_fit_is_one_line_before_anything_is_built(method, pairs, tmp_path, monkeypatch):
    monkeypatch.setenv("PATCH2LOC_TRAIN_MEM_MB", "48000")  # the workflow's training jobs
    monkeypatch.setattr("patch2loc.training.harness.seed_everything", _never_built)
    out = tmp_path / "model"
    with pytest.raises(InputError) as info:
        implementation(method).train_from_files(
            *pairs, dict(BIG[method], device="cpu"), out, modality="T1", threads=1, progress=False
        )
    _line_names_the_block(method, str(info.value))
    assert not out.exists()


@pytest.mark.parametrize("method", PUBLISHED)
def test_a_block_of_a_method_on_published_networks_is_checked_alike(method, monkeypatch):
    from dataclasses import asdict

    import torch

    from patch2loc.training.train_memory import check_before_training
    from patch2loc.training.training_data import TrainingData

    monkeypatch.setenv("PATCH2LOC_TRAIN_MEM_MB", "48000")
    data = TrainingData(*(np.zeros((2, *SHAPE), t) for t in (np.float32, bool, np.float32, bool)), {}, (1.0,) * 3)
    cfg = implementation(method).Settings(**BIG[method])
    with pytest.raises(InputError) as info:
        check_before_training(cfg, data, {**asdict(cfg), "volume_shape": list(SHAPE)}, torch.device("cpu"))
    _line_names_the_block(method, str(info.value))


def test_the_jobs_mem_mb_is_the_limit(pairs, tmp_path, monkeypatch):
    monkeypatch.setenv("PATCH2LOC_TRAIN_MEM_MB", "16")
    block = {"steps": 2, "patches_per_step": 1024, "patch_size": 16, "val_every": 1, "val_batches": 1, "device": "cpu"}
    with pytest.raises(InputError, match=r"more than the job's mem_mb \(PATCH2LOC_TRAIN_MEM_MB\), 16 MB"):
        implementation("Patch2Loc").train_from_files(
            *pairs, block, tmp_path / "model", modality="T1", threads=1, progress=False
        )


def test_a_small_block_trains(pairs, tmp_path, monkeypatch):
    monkeypatch.setenv("PATCH2LOC_TRAIN_MEM_MB", "48000")
    block = {"steps": 2, "patches_per_step": 8, "patch_size": 4, "val_every": 1, "val_batches": 1, "device": "cpu"}
    implementation("Patch2Loc").train_from_files(
        *pairs, block, tmp_path / "model", modality="T1", threads=1, progress=False
    )
    assert (tmp_path / "model" / "best.pt").is_file()


def test_the_estimate_grows_with_the_batch_and_the_size():
    from dataclasses import asdict

    from patch2loc.methods.autoencoder.variants import AEConfig
    from patch2loc.training.train_memory import estimate
    from patch2loc.training.training_data import TrainingData

    grid = (32, 32, 8)
    data = TrainingData(*(np.zeros((2, *grid), t) for t in (np.float32, bool, np.float32, bool)), {}, (1.0,) * 3)

    def need(**block):
        cfg = AEConfig(**block)
        return estimate("AE", cfg, data, {**asdict(cfg), "variational": False, "volume_shape": list(grid)})

    small, big = need(batch_size=8, size=64), need(batch_size=128, size=1024)
    assert big["activations"] == 16 * 256 * small["activations"]
    assert big["network"] > small["network"] > 0 and big["total"] > 48000 * 2**20

"""RA's training and scoring on the CPU (docs/ra.md): the published weights refused when missing and
loaded when there, a two-step training of the offline variant and its map, a resumed run ending with
the uninterrupted one's weights, the schema's keys and the settings' bounds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
import yaml

from patch2loc.errors import InputError
from patch2loc.methods.ra.score import ra_map
from patch2loc.methods.ra.train import RAConfig, RATask
from patch2loc.registry import implementation
from tests.helpers.slice_volumes import ellipsoid_pairs
from tests.helpers.resume import assert_same_weights, interrupted_and_resumed
from tests.helpers.published import fake_published

REPO = Path(__file__).resolve().parents[2]
TINY = dict(steps=2, batch_size=2, lr=1e-3, size=32, width=2, zdim=8, val_every=1, val_batches=1)


def _volumes(folder: Path, count: int = 3, depth: int = 6) -> list[tuple[Path, Path]]:
    return ellipsoid_pairs(folder, count, depth)


def _train(pairs, out: Path, method: str = "RA-noLPIPS", **settings) -> Path:
    block = {**TINY, **settings, "threads": 1, "device": "cpu"}
    implementation(method).train_from_files(pairs[:2], pairs[2:], block, out, modality="T1", threads=1, progress=False)
    return out / "best.pt"


def test_published_weights_missing_are_one_line_and_loaded_when_there(tmp_path, monkeypatch):
    pairs = _volumes(tmp_path / "data")
    with pytest.raises(InputError, match="missing; fetch it with `snakemake download_weights`") as info:
        _train(pairs, tmp_path / "none", "RA", pretrained_home=str(tmp_path / "empty"))
    assert "\n" not in str(info.value) and not (tmp_path / "none").exists()
    states = fake_published(["squeezenet1_1", "lpips_squeeze"], tmp_path / "home", monkeypatch)
    best = _train(pairs, tmp_path / "m", "RA", pretrained_home=str(tmp_path / "home"))
    model, ckpt = implementation("RA").load(str(best), "cpu")
    assert ckpt["config"]["weights"] == "imagenet" and model.perceptual is not None
    for k, v in states["squeezenet1_1"].items():
        if k.startswith("features."):
            torch.testing.assert_close(ckpt["model"]["perceptual." + k], v, rtol=0, atol=0)
    for k in range(7):
        torch.testing.assert_close(model.perceptual.heads[k].weight, states["lpips_squeeze"][f"lin{k}.model.1.weight"])
    image = np.asarray(nib.load(pairs[2][0]).dataobj, np.float32)
    mask = np.asarray(nib.load(pairs[2][1]).dataobj) > 0
    score = implementation("RA").score(model, image, mask, type("S", (), {"device": "cpu"})())["score"]
    assert score.shape == image.shape and np.isfinite(score).all() and score[mask].max() > 0
    with pytest.raises(InputError, match="RA trains with weights imagenet"):
        RAConfig(weights="random")


def test_tiny_training_and_scoring_of_the_offline_variant(tmp_path):
    pairs = _volumes(tmp_path / "data")
    best = _train(pairs, tmp_path / "m")
    module = implementation("RA-noLPIPS")
    model, ckpt = module.load(str(best), "cpu")
    assert ckpt["method"] == "RA-noLPIPS" and ckpt["config"]["weights"] == "random" and model.perceptual is None
    assert not any(k.startswith("perceptual.") for k in ckpt["model"]) and set(ckpt["optimizer"]) == {
        "encoder",
        "decoder",
    }
    image = np.asarray(nib.load(pairs[2][0]).dataobj, np.float32)
    mask = np.asarray(nib.load(pairs[2][1]).dataobj) > 0
    settings = type("S", (), {"device": "cpu"})()
    score = module.score(model, image, mask, settings)["score"]
    assert score.shape == image.shape and score.dtype == np.float32
    assert (score[~mask] == 0).all() and (score >= 0).all() and score[mask].mean() > 0
    np.testing.assert_array_equal(module.score(model, image, mask, settings)["score"], score)  # seeded code samples
    # the map of one volume: the seeded reconstruction of its slices (already the model's 32 x 32), the residual
    clean = torch.from_numpy((image * mask).transpose(2, 0, 1).copy()).unsqueeze(1)
    keep = mask.any(axis=(0, 1))
    with torch.no_grad():
        x = clean[keep].clamp(0, 1)
        rec = model.vae(x, torch.Generator().manual_seed(ckpt["config"]["seed"]))[0]
        expected = np.zeros_like(image)
        expected[:, :, keep] = ra_map(None, x, rec)[:, 0].numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(score, expected * mask, atol=1e-6)
    with pytest.raises(InputError, match="trained on"):
        module.score(model, image[:, :, :4], mask[:, :, :4], settings)


def test_an_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """Both optimisers' states, the generator and the weights come back from last.pt: stopped after the
    step-2 checkpoint and run again, the run ends with the uninterrupted one's weights."""
    pairs = _volumes(tmp_path / "data")
    settings = dict(steps=4, val_every=2, checkpoint_every=2)
    straight, resumed = interrupted_and_resumed(
        RATask, lambda folder: _train(pairs, tmp_path / folder, **settings), monkeypatch
    )
    assert straight["step"] == 4
    assert_same_weights(resumed, straight)
    for name in ("encoder", "decoder"):
        for index, state in straight["optimizer"][name]["state"].items():
            got = resumed["optimizer"][name]["state"][index]
            torch.testing.assert_close(got["exp_avg"], state["exp_avg"], rtol=0, atol=0)


def test_settings_schema_and_bounds():
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    keys = set(schema["properties"]["ra"]["properties"]) - {"threads"}
    # not in the block: the method (RA or RA-noLPIPS) sets `method` and `weights`, the workflow `pretrained_home`
    code = {f.name for f in dataclasses.fields(RAConfig)} - {"device", "num_threads", "modality"}
    assert code - {"method", "weights", "pretrained_home"} == keys
    with pytest.raises(InputError, match="multiple of 32"):
        RAConfig(size=48)
    with pytest.raises(InputError, match="ra.size"):
        RAConfig(size=16)

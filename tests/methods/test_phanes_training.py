"""PHANES' training and scoring on the CPU (docs/phanes.md): a two-step training and scoring of the
offline variant, the paper method on stand-ins for the published files (LPIPS saved in the model,
VGG-19 not), missing files refused before any volume is read, and a resumed run ending with the
uninterrupted one's weights. Tiny: RA at width 2, 64 x 64 slices (the smallest PHANES takes)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from patch2loc.errors import InputError
from patch2loc.networks import pretrained
from patch2loc.methods.phanes import train as phanes_train
from patch2loc.methods.phanes.train import PHANESTask
from patch2loc.registry import implementation
from tests.helpers.loss_log import loss_log
from tests.helpers.slice_volumes import ellipsoid_pairs as volumes
from tests.helpers.resume import assert_same_weights, interrupted_and_resumed
from tests.helpers.published import fake_published

TINY = dict(steps=2, batch_size=2, lr=1e-3, size=64, width=2, zdim=8, val_every=1, val_batches=1)
PUBLISHED = ["squeezenet1_1", "lpips_squeeze", "vgg19"]
OPTIMISERS = {"encoder", "decoder", "generator", "discriminator"}
SCAN = type("ScanSettings", (), {"device": "cpu"})()


def train(pairs, out: Path, method: str = "PHANES-noPretrained", **settings) -> Path:
    block = {**TINY, **settings, "threads": 1, "device": "cpu"}
    implementation(method).train_from_files(pairs[:2], pairs[2:], block, out, modality="T1", threads=1, progress=False)
    return out / "best.pt"


def _read(pair) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(nib.load(pair[0]).dataobj, np.float32), np.asarray(nib.load(pair[1]).dataobj) > 0


@pytest.fixture
def loss_terms(monkeypatch) -> list:
    """The generator's loss terms and VGG of every training step (train.reconstruction_losses spied on)."""
    seen, real = [], phanes_train.reconstruction_losses

    def spy(pred, target, vgg):
        terms = real(pred, target, vgg)
        seen.append((sorted(terms), vgg))
        return terms

    monkeypatch.setattr(phanes_train, "reconstruction_losses", spy)
    return seen


def test_two_steps_of_the_offline_variant_train_and_score(tmp_path, loss_terms):
    pairs = volumes(tmp_path / "data")
    best = train(pairs, tmp_path / "m")
    assert [t for t, _ in loss_terms] == [["l1"], ["l1"]] and loss_terms[0][1] is None  # no VGG: L1 only
    loss = loss_log(tmp_path / "m", [1, 2], list(phanes_train.COLUMNS))
    np.testing.assert_allclose(loss["val_loss"], (loss["val_mse_final"] + loss["val_mse_coarse"]) / 2)
    module = implementation("PHANES-noPretrained")
    model, ckpt = module.load(str(best), "cpu")
    assert ckpt["method"] == "PHANES-noPretrained" and ckpt["config"]["weights"] == "random"
    assert model.perceptual is None and not any(k.startswith("perceptual.") for k in ckpt["model"])
    assert set(ckpt["optimizer"]) == OPTIMISERS and not any("vgg" in k for k in ckpt["model"])
    image, mask = _read(pairs[2])
    score = module.score(model, image, mask, SCAN)["score"]
    assert score.shape == image.shape and score.dtype == np.float32
    assert (score[~mask] == 0).all() and (score >= 0).all() and score[mask].max() > 0
    np.testing.assert_array_equal(module.score(model, image, mask, SCAN)["score"], score)  # seeded code samples
    with pytest.raises(InputError, match="trained on"):
        module.score(model, image[:, :, :2], mask[:, :, :2], SCAN)
    with pytest.raises(InputError, match="PHANES"):  # the variant's checkpoint is not the paper method's
        implementation("PHANES").load(str(best), "cpu")


def test_the_paper_method_trains_on_the_published_networks_and_keeps_lpips_not_vgg(tmp_path, monkeypatch, loss_terms):
    states = fake_published(PUBLISHED, tmp_path / "home", monkeypatch)
    pairs = volumes(tmp_path / "data")
    best = train(pairs, tmp_path / "m", "PHANES", batch_size=1, pretrained_home=str(tmp_path / "home"))
    assert [t for t, _ in loss_terms] == [["l1", "perceptual", "style"]] * 2
    vgg = loss_terms[0][1]
    torch.testing.assert_close(vgg.features[0].weight.cpu(), states["vgg19"]["features.0.weight"], rtol=0, atol=0)
    for key in PUBLISHED:  # scoring needs no cache
        monkeypatch.setitem(pretrained.FILES, key, None)
    model, ckpt = implementation("PHANES").load(str(best), "cpu")
    assert ckpt["method"] == "PHANES" and ckpt["config"]["weights"] == "imagenet" and model.perceptual is not None
    for k, v in states["squeezenet1_1"].items():
        if k.startswith("features."):
            torch.testing.assert_close(ckpt["model"]["perceptual." + k], v, rtol=0, atol=0)
    for k in range(7):
        torch.testing.assert_close(model.perceptual.heads[k].weight, states["lpips_squeeze"][f"lin{k}.model.1.weight"])
    assert not any("vgg" in k for k in ckpt["model"])
    assert (512, 512, 3, 3) not in {tuple(v.shape) for v in ckpt["model"].values()}  # VGG's conv4/5: not saved
    image, mask = _read(pairs[2])
    score = implementation("PHANES").score(model, image, mask, SCAN)["score"]
    # two steps on a random 'published' LPIPS: the mask may lie outside the brain, so no value is asserted
    assert score.shape == image.shape and np.isfinite(score).all() and (score >= 0).all() and (score[~mask] == 0).all()
    with pytest.raises(InputError, match="PHANES-noPretrained"):
        implementation("PHANES-noPretrained").load(str(best), "cpu")


@pytest.mark.parametrize("present", [[], ["squeezenet1_1", "lpips_squeeze"]], ids=["none", "no-vgg19"])
def test_a_missing_published_file_is_one_line_before_any_volume_is_read(tmp_path, monkeypatch, present):
    fake_published(present, tmp_path / "home", monkeypatch)
    missing = [(tmp_path / "no.nii.gz", tmp_path / "no_mask.nii.gz")] * 3
    name = r"vgg19-\w+\.pth" if present else r"squeezenet1_1-\w+\.pth"
    with pytest.raises(InputError, match=name + r": missing.*list PHANES-noPretrained in `methods`") as err:
        train(missing, tmp_path / "m", "PHANES", pretrained_home=str(tmp_path / "home"))
    assert "\n" not in str(err.value) and not (tmp_path / "m").exists()


def test_an_interrupted_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """The four optimisers' states, the generator (and through it the synthetic masks) and the weights
    come back from last.pt: stopped after the step-2 checkpoint and run again, the run ends with the
    uninterrupted one's weights."""
    pairs = volumes(tmp_path / "data", depth=2)
    settings = dict(steps=4, val_every=2, checkpoint_every=2, batch_size=1)
    straight, resumed = interrupted_and_resumed(
        PHANESTask, lambda folder: train(pairs, tmp_path / folder, **settings), monkeypatch
    )
    assert straight["step"] == 4
    assert_same_weights(resumed, straight)
    assert set(straight["optimizer"]) == OPTIMISERS
    for name in OPTIMISERS:
        for index, state in straight["optimizer"][name]["state"].items():
            got = resumed["optimizer"][name]["state"][index]
            torch.testing.assert_close(got["exp_avg"], state["exp_avg"], rtol=0, atol=0)

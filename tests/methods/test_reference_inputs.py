"""The deviation ablation's switches (networks/inputs.py): each reference's input convention as a
setting of RA, PHANES and FAE, recorded in the checkpoint, used by scoring as in training."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch

from patch2loc.errors import InputError
from patch2loc.methods.autoencoder.train import reference_slices
from patch2loc.methods.phanes import train as phanes_train
from patch2loc.networks.inputs import MIDBRAIN, axial_band, equalise_histogram, full_range
from patch2loc.registry import implementation
from patch2loc.training.training_data import load_training_data
from tests.helpers.slice_volumes import smooth_pairs

FAE_TINY = dict(steps=2, batch_size=4, size=64, hidden_dims=[4, 6, 8, 10], val_every=1, val_batches=1)
RA_TINY = dict(steps=2, batch_size=2, lr=1e-3, size=32, width=2, zdim=8, val_every=1, val_batches=1)
PHANES_TINY = {**RA_TINY, "size": 64}
SHAPE = (40, 40, 12)


def _train(method: str, pairs, out: Path, **settings) -> Path:
    block = {**settings, "threads": 1, "device": "cpu"}
    implementation(method).train_from_files(pairs[:2], pairs[2:], block, out, modality="T1", threads=1, progress=False)
    return out / "best.pt"


def _scan(pair) -> tuple[np.ndarray, np.ndarray]:
    image, mask = (np.asarray(nib.load(p).dataobj) for p in pair)
    return image.astype(np.float32), mask > 0


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return smooth_pairs(tmp_path_factory.mktemp("data"), SHAPE, 3)


def test_the_band_keeps_the_middle_of_each_volumes_brain():
    masks = np.zeros((2, 4, 4, 30), bool)
    masks[0, 1:3, 1:3, 2:13] = True  # brain on slices 2-12
    masks[1, 1:3, 1:3, 10:30] = True  # 10-29
    kept = axial_band(masks, MIDBRAIN)
    assert np.flatnonzero(kept[0]).tolist() == [6, 7, 8, 9, 10]  # 2 + 0.36 x 10 = 5.6 to 2 + 8.7
    assert np.flatnonzero(kept[1]).tolist() == list(range(17, 27))  # 10 + 6.84 to 10 + 16.53
    assert (axial_band(masks, (0.0, 1.0)) == masks.any(axis=(1, 2))).all()
    assert not axial_band(np.zeros((1, 2, 2, 5), bool), MIDBRAIN).any()


def test_full_range_keeps_a_bright_lesion_apart_where_the_clip_flattens_it():
    volume = np.full((6, 6, 2), 0.8, np.float32)
    volume[2, 2, 0], volume[3, 3, 0] = 1.5, 3.0  # two lesions brighter than the 98th percentile (1)
    mask = np.ones(volume.shape, bool)
    scaled = full_range(volume, mask)
    assert scaled.max() == 1.0 and scaled[2, 2, 0] == pytest.approx(0.5) and scaled[0, 0, 0] == pytest.approx(0.8 / 3)
    clipped = np.clip(volume, 0, 1)
    assert clipped[2, 2, 0] == clipped[3, 3, 0]  # what the default does to them
    assert (full_range(volume - 5, mask) == 0).all()  # nothing above 0: unchanged but for the negatives


def test_equalisation_flattens_the_brains_histogram_and_keeps_the_background():
    rng = np.random.default_rng(0)
    volume = np.zeros((20, 20, 10), np.float32)
    volume[4:16, 4:16, 2:8] = rng.gamma(2.0, 0.3, (12, 12, 6)) + 0.01
    out = equalise_histogram(volume)
    brain = volume > 0
    assert out.dtype == np.float32 and (out[~brain] == 0).all()
    quantiles = np.quantile(out[brain], [0.1, 0.5, 0.9])
    np.testing.assert_allclose(quantiles, [0.1, 0.5, 0.9], atol=0.02)  # about uniform in (0, 1]
    order = np.argsort(volume[brain])
    assert (np.diff(out[brain][order]) >= 0).all()  # the order of intensities is kept


def test_the_band_and_the_conventions_reach_the_training_slices(pairs):
    data = load_training_data(pairs[:2], pairs[2:])
    every, _, _ = reference_slices(data, 32, torch.device("cpu"))
    middle, val_middle, _ = reference_slices(data, 32, torch.device("cpu"), band=MIDBRAIN)
    assert 0 < len(middle) < len(every) and len(val_middle) < len(every)
    ranged, _, _ = reference_slices(data, 32, torch.device("cpu"), intensity="full_range")
    assert ranged.max() <= 1.0 + 1e-6 and not torch.equal(ranged, every)


def test_fae_trained_with_the_equalisation_records_it_and_scores_equalised_volumes(pairs, tmp_path):
    best = _train("FAE-random", pairs, tmp_path / "model", **FAE_TINY, equalise=True, axial_range=list(MIDBRAIN))
    module = implementation("FAE-random")
    model, ckpt = module.load(str(best), "cpu")
    assert ckpt["config"]["equalise"] is True and list(ckpt["config"]["axial_range"]) == list(MIDBRAIN)
    assert model.equalise is True
    image, mask = _scan(pairs[2])
    settings = type("ScanSettings", (), {"device": "cpu"})()
    switched = module.score(model, image, mask, settings)["score"]
    model.equalise = False
    np.testing.assert_array_equal(module.score(model, equalise_histogram(image), mask, settings)["score"], switched)
    assert not np.array_equal(module.score(model, image, mask, settings)["score"], switched)
    with pytest.raises(InputError, match="equalise"):  # a resumed run must not change the switch
        _train("FAE-random", pairs, tmp_path / "model", **{**FAE_TINY, "steps": 3}, axial_range=list(MIDBRAIN))


def test_ra_trained_on_the_full_range_scores_the_volume_scaled_as_in_training(pairs, tmp_path):
    best = _train("RA-noLPIPS", pairs, tmp_path / "model", **RA_TINY, intensity="full_range")
    module = implementation("RA-noLPIPS")
    model, ckpt = module.load(str(best), "cpu")
    assert ckpt["config"]["intensity"] == "full_range" and model.intensity == "full_range"
    image, mask = _scan(pairs[2])
    image = image * 2.0  # half of the brain above 1: the clip and the full range differ
    settings = type("ScanSettings", (), {"device": "cpu"})()
    switched = module.score(model, image, mask, settings)["score"]
    model.intensity = "clip"
    np.testing.assert_array_equal(module.score(model, full_range(image, mask), mask, settings)["score"], switched)
    assert not np.array_equal(module.score(model, image, mask, settings)["score"], switched)


def test_phanes_masks_take_the_thresholds_of_its_settings(pairs, tmp_path, monkeypatch):
    seen = {"train": set(), "val": set()}
    mask_of, restore = phanes_train.mask_of, phanes_train.restore

    def watched_mask_of(perceptual, x, coarse, threshold, *args):
        seen["train"].add(threshold)
        return mask_of(perceptual, x, coarse, threshold, *args)

    def watched_restore(model, x, generator, threshold, *args):
        seen["val"].add(threshold)
        return restore(model, x, generator, threshold, *args)

    monkeypatch.setattr(phanes_train, "mask_of", watched_mask_of)
    monkeypatch.setattr(phanes_train, "restore", watched_restore)
    best = _train("PHANES-noPretrained", pairs, tmp_path / "m", **PHANES_TINY, train_threshold=0.2, val_threshold=0.3)
    assert seen == {"train": {0.2}, "val": {0.3}}
    config = torch.load(best, map_location="cpu", weights_only=False)["config"]
    assert (config["train_threshold"], config["val_threshold"]) == (0.2, 0.3)


@pytest.mark.parametrize(
    "method, settings, message",
    [
        ("RA-noLPIPS", {"intensity": "png"}, "intensity 'png' must be one of"),
        ("FAE-random", {"axial_range": [0.9, 0.1]}, "axial_range"),
        ("PHANES-noPretrained", {"val_threshold": 1.5}, "val_threshold"),
    ],
)
def test_a_wrong_switch_is_one_line(method, settings, message):
    with pytest.raises(InputError, match=message):
        implementation(method).Settings(**settings)

"""Meissen et al.'s FAE (docs/fae.md): the network against the reference's numbers, the SSIM against an
independent computation, the extractor's weights (published file, missing file, random), a tiny training
and scoring on the CPU."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from scipy import ndimage
from torch.nn import functional as F

from patch2loc.errors import InputError
from patch2loc.networks import pretrained
from patch2loc.methods.fae.model import FAE, ResNetStages, anomaly_slices, fae_loss, negative_ssim, resnet18
from patch2loc.methods.fae.train import FAEConfig
from patch2loc.registry import implementation
from tests.helpers.loss_log import loss_log
from tests.helpers.resume import assert_same_weights, interrupted_and_resumed
from tests.helpers.published import publish, random_state
from tests.helpers.slice_volumes import smooth_pairs

TINY = dict(steps=2, batch_size=4, size=64, hidden_dims=[4, 6, 8, 10], val_every=1, val_batches=1)


def _trainable(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def test_parameter_counts_are_the_reference_networks():
    """Counted from fae/models/models.py l. 44-172 with in_channels 256, hidden_dims [100, 150, 200, 300]:
    5x5 convolutions and 6x6 transposed ones without bias, a batch norm (2 x channels) after each but the
    last two, the encoder's final 5x5 300 -> 300 and the decoder's 1x1 256 -> 256."""
    encoder = 25 * (256 * 100 + 100 * 150 + 150 * 200 + 200 * 300) + 2 * (100 + 150 + 200 + 300) + 25 * 300 * 300
    decoder = 36 * (300 * 200 + 200 * 150 + 150 * 100 + 100 * 256) + 2 * (200 + 150 + 100 + 256) + 256 * 256
    assert encoder == 5_516_500 and decoder == 4_768_548
    model = FAE()
    assert _trainable(model) == encoder + decoder == 10_285_048
    # The frozen ResNet-18 stem, layer1 and layer2: 9,408 + 128 + 147,968 + 525,568 weights, none trained.
    assert sum(p.numel() for p in model.extractor.parameters()) == 683_072
    assert not any(p.requires_grad for p in model.extractor.parameters())
    assert {k.split(".")[1] for k in model.state_dict() if k.startswith("extractor.")} == {"layer0", "layer1", "layer2"}


def test_features_are_the_stem_layer1_and_layer2_resized_and_concatenated():
    """256 x 32 x 32 for a 128-pixel slice; [0, 1] mapped to [-1, 1], no ImageNet mean and std."""
    torch.manual_seed(0)
    net = resnet18().eval()
    stages = ResNetStages(net, 128).eval()
    x = torch.rand(2, 1, 128, 128)
    with torch.no_grad():
        features = stages(x)
        h0 = net.maxpool(net.relu(net.bn1(net.conv1((x.repeat(1, 3, 1, 1) - 0.5) * 2))))
        h1 = net.layer1(h0)
        h2 = F.interpolate(net.layer2(h1), size=32, mode="bilinear", align_corners=True)
    assert features.shape == (2, 256, 32, 32) and h0.shape[-1] == h1.shape[-1] == 32
    torch.testing.assert_close(features, torch.cat([h0, h1, h2], dim=1))


def _ssim_numpy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """SSIM per channel and pixel from its definition: 5 x 5 Gaussian weights (sigma 1.5, sum 1), zero
    padded, C1 = 0.01^2, C2 = 0.03^2 (FeliMe/feature-autoencoder fae/utils/pytorch_ssim.py)."""
    g = np.exp(-((np.arange(5) - 2.0) ** 2) / (2 * 1.5**2))
    w = np.outer(g, g) / g.sum() ** 2
    out = np.empty_like(a, dtype=np.float64)
    for i in np.ndindex(a.shape[:2]):
        x, y = a[i].astype(np.float64), b[i].astype(np.float64)

        def mean(t):
            return ndimage.correlate(t, w, mode="constant", cval=0.0)

        mx, my = mean(x), mean(y)
        vx, vy, cxy = mean(x * x) - mx**2, mean(y * y) - my**2, mean(x * y) - mx * my
        out[i] = ((2 * mx * my + 1e-4) * (2 * cxy + 9e-4)) / ((mx**2 + my**2 + 1e-4) * (vx + vy + 9e-4))
    return out


def test_the_ssim_map_and_the_loss_are_the_definitions():
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3, 9, 11)).astype(np.float32)
    b = (a + 0.3 * rng.standard_normal(a.shape)).astype(np.float32)
    expected = -_ssim_numpy(a, b)
    got = negative_ssim(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    assert got.mean() > -1  # the noise lowers the similarity
    loss = fae_loss(torch.from_numpy(b), torch.from_numpy(a)).item()
    assert loss == pytest.approx(expected.mean(), rel=1e-4)
    torch.testing.assert_close(negative_ssim(torch.from_numpy(a), torch.from_numpy(a)), -torch.ones(2, 3, 9, 11))


def test_the_anomaly_map_is_one_minus_the_channel_mean_ssim_upsampled():
    torch.manual_seed(1)
    model = FAE(64, [4, 6, 8, 10]).eval()
    x = torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        got = anomaly_slices(model, x).numpy()
        features, reconstruction = model(x)
    small = 1 - _ssim_numpy(reconstruction.numpy(), features.numpy()).mean(axis=1)  # [3, 16, 16]
    expected = np.stack([ndimage.zoom(m, 4, order=1) for m in small])  # linear, corners aligned
    assert got.shape == (3, 1, 64, 64)
    np.testing.assert_allclose(got[:, 0], expected, rtol=1e-4, atol=1e-5)


def _train(pairs, out: Path, method: str = "FAE-random", **settings) -> Path:
    block = {**TINY, **settings, "threads": 1, "device": "cpu"}
    implementation(method).train_from_files(pairs[:2], pairs[2:], block, out, modality="T1", threads=1, progress=False)
    return out / "best.pt"


def test_tiny_training_and_scoring_on_the_cpu(tmp_path):
    shape = (40, 40, 6)  # resized to the model's 64 x 64 and back
    pairs = smooth_pairs(tmp_path / "data", shape, 3)
    best = _train(pairs, tmp_path / "model")
    loss = loss_log(tmp_path / "model", [1, 2], ["step", "train_loss", "val_loss", "val_brain_score"])
    assert (loss["train_loss"] > -1).all() and (loss["train_loss"] < 1).all()  # a mean of -SSIM
    module = implementation("FAE-random")
    model, ckpt = module.load(str(best), "cpu")
    assert ckpt["method"] == "FAE-random" and ckpt["config"]["weights"] == "random" and model.size == 64
    assert ckpt["config"]["volume_shape"] == list(shape) and ckpt["config"]["hidden_dims"] == [4, 6, 8, 10]
    # The extractor's batch norms followed the training slices (train mode, as the reference's).
    fresh = FAE(64, [4, 6, 8, 10])
    assert not torch.equal(model.extractor.layer0[1].running_mean, fresh.extractor.layer0[1].running_mean)
    image, mask = (np.asarray(nib.load(path).dataobj) for path in pairs[2])
    image, mask = image.astype(np.float32), mask > 0
    settings = type("ScanSettings", (), {"device": "cpu"})()
    score = module.score(model, image, mask, settings)["score"]
    assert score.shape == shape and score.dtype == np.float32
    assert (score[~mask] == 0).all() and (score >= 0).all() and score[mask].mean() > 0
    np.testing.assert_array_equal(module.score(model, image, mask, settings)["score"], score)
    z = int(np.flatnonzero(mask.any(axis=(0, 1)))[0])
    full = torch.from_numpy(image[:, :, z] * mask[:, :, z])[None, None]
    with torch.no_grad():
        small = F.interpolate(full, size=(64, 64), mode="bilinear", align_corners=False)
        back = F.interpolate(anomaly_slices(model, small), size=shape[:2], mode="bilinear", align_corners=False)
    np.testing.assert_allclose(score[:, :, z], back[0, 0].numpy() * mask[:, :, z], atol=1e-5)
    with pytest.raises(InputError, match="trained on"):
        module.score(model, image[:, :, :4], mask[:, :, :4], settings)


def test_without_the_published_file_imagenet_is_one_line_before_any_volume_is_read(tmp_path):
    missing = [(tmp_path / "no.nii.gz", tmp_path / "no_mask.nii.gz")] * 2
    with pytest.raises(InputError, match=r"resnet18-\w+\.pth: missing.*list FAE-random in `methods`") as err:
        _train(missing, tmp_path / "model", method="FAE", pretrained_home=str(tmp_path / "cache"))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "model").exists()


def _publish(monkeypatch, folder: Path, state: dict) -> None:
    """`state` saved as the cache's resnet18 file, and FILES pointed at its size and sha256."""
    publish("resnet18", state, folder, monkeypatch, "fake-resnet18.pth")


def test_the_published_file_is_the_extractor_and_travels_in_the_checkpoint(tmp_path, monkeypatch):
    torch.manual_seed(123)
    state = random_state("resnet18")  # the published form: no num_batches_tracked
    _publish(monkeypatch, tmp_path / "cache", state)
    pairs = smooth_pairs(tmp_path / "data", (32, 32, 5), 3)
    best = _train(pairs, tmp_path / "model", method="FAE", pretrained_home=str(tmp_path / "cache"))
    monkeypatch.setitem(pretrained.FILES, "resnet18", None)  # scoring needs no cache
    model, ckpt = implementation("FAE").load(str(best), "cpu")
    assert ckpt["config"]["weights"] == "imagenet"
    extractor = model.extractor
    torch.testing.assert_close(extractor.layer0[0].weight, state["conv1.weight"], rtol=0, atol=0)
    torch.testing.assert_close(extractor.layer1[1].conv2.weight, state["layer1.1.conv2.weight"], rtol=0, atol=0)
    torch.testing.assert_close(extractor.layer2[0].downsample[0].weight, state["layer2.0.downsample.0.weight"])
    torch.testing.assert_close(extractor.layer0[1].weight, state["bn1.weight"], rtol=0, atol=0)


def test_a_file_that_is_no_resnet18_is_one_line_before_any_volume_is_read(tmp_path, monkeypatch):
    missing = [(tmp_path / "no.nii.gz", tmp_path / "no_mask.nii.gz")] * 2
    state = {k: v.clone() for k, v in resnet18().state_dict().items()}
    for name, bad in (("fc.weight", state["fc.weight"][:, :8]), ("weight", torch.zeros(3))):  # a shape, a key
        _publish(monkeypatch, tmp_path / name, {**state, name: bad})
        with pytest.raises(InputError, match=rf"fake-resnet18.pth: not the resnet18 weights .*: {name}\)"):
            _train(missing, tmp_path / "model", method="FAE", pretrained_home=str(tmp_path / name))


def test_settings_out_of_range_are_one_line():
    with pytest.raises(InputError, match="size 96 must be a multiple of 64"):
        FAEConfig(size=96)
    assert FAEConfig(size=32, hidden_dims=[8, 8]).size == 32  # 4 x 2^2 = 16 divides 32
    with pytest.raises(InputError, match="FAE trains with weights imagenet"):
        FAEConfig(weights="random")
    with pytest.raises(InputError, match="hidden_dims"):
        FAEConfig(hidden_dims=[8] * 7)
    with pytest.raises(InputError, match="more than 200,000,000"):
        FAEConfig(hidden_dims=[1024] * 6, size=256)


def test_an_edited_checkpoint_is_refused_before_its_network_is_built(tmp_path):
    best = _train(smooth_pairs(tmp_path / "data", (32, 32, 5), 3), tmp_path / "model")
    ckpt = torch.load(best, weights_only=True)
    ckpt["config"].update(hidden_dims=[1024] * 6, size=256)  # 362 million weights
    torch.save(ckpt, tmp_path / "edited.pt")
    with pytest.raises(InputError, match="not a usable FAE-random checkpoint.*more than 200,000,000"):
        implementation("FAE-random").load(str(tmp_path / "edited.pt"), "cpu")


def test_the_schema_and_the_settings_name_the_same_keys():
    """Each key of the `fae:` schema is a setting and each setting a schema key (but those the workflow
    sets: device, threads, modality, pretrained_home, and those the method sets: method, weights)."""
    import dataclasses

    import yaml

    schema = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "schema.yaml").read_text())
    keys = set(schema["properties"]["fae"]["properties"]) - {"threads"}
    set_elsewhere = {"device", "num_threads", "modality", "pretrained_home", "method", "weights"}
    assert {f.name for f in dataclasses.fields(FAEConfig)} - set_elsewhere == keys


def test_a_resumed_training_ends_with_the_same_weights_and_batch_norm_statistics(tmp_path, monkeypatch):
    """Stopped after the step-2 checkpoint and run again: the trained weights, the extractor's running
    statistics (updated in train mode) and the dropout stream are those of an uninterrupted run."""
    from patch2loc.methods.fae.train import FAETask

    pairs = smooth_pairs(tmp_path / "data", (32, 32, 5), 3)
    settings = dict(steps=4, val_every=2, checkpoint_every=2)
    whole, again = interrupted_and_resumed(
        FAETask, lambda folder: _train(pairs, tmp_path / folder, **settings), monkeypatch
    )
    assert whole["step"] == 4
    assert "extractor.layer2.1.bn2.running_var" in whole["model"]
    assert_same_weights(again, whole)

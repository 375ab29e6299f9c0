"""Baur et al.'s AE and VAE (docs/ae-vae.md): the network against the reference's, a tiny training and
scoring on the CPU, the bundle round trip, out-of-range settings, and the paper config's dry run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from tests.helpers.loss_log import loss_log
from tests.helpers.resume import assert_same_weights, interrupted_and_resumed
from tests.helpers.fake_chain import fake_prepare
from tests.helpers.safety import make_case, predict_argv
from tests.helpers.bundle import make_run
from tests.helpers.slice_volumes import smooth_pairs
from tests.helpers.workflow import dry_run_jobs

from patch2loc import cli
from patch2loc.errors import InputError
from patch2loc.run.layout import RunLayout
from patch2loc.registry import implementation
from patch2loc.methods.autoencoder.model import DenseAutoencoder, SameConv, SameConvTranspose
from patch2loc.methods.autoencoder.variants import AEConfig, VAEConfig
from patch2loc.run.settings import config_from_dict

TINY = dict(steps=4, batch_size=4, lr=1e-3, size=16, width=4, bottleneck=4, latent=8, val_every=2, val_batches=1)


def _count(module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_parameter_counts_are_the_reference_networks():
    """Counted by hand from models/customlayers.py, models/autoencoder.py and
    models/variational_autoencoder.py (128 x 128 input, intermediateResolutions 8, zDim 128); a
    batch normalisation holds gamma and beta (2 x channels), a 5x5 convolution 25 x in x out + out."""
    encoder = (25 * 1 * 32 + 32) + (25 * 32 * 64 + 64) + (25 * 64 * 128 + 128) + (25 * 128 * 128 + 128)
    assert encoder == 832 + 51_264 + 204_928 + 409_728 == 666_752
    encoder_norms = 2 * (32 + 64 + 128 + 128)  # 704
    # 1x1 conv 128 -> 16, dense 8*8*16 = 1024 -> 128, dense 128 -> 1024, 1x1 conv 16 -> 128
    bottleneck = (128 * 16 + 16) + (1024 * 128 + 128) + (128 * 1024 + 1024) + (16 * 128 + 128)
    assert bottleneck == 2_064 + 131_200 + 132_096 + 2_176 == 267_536
    decoder = (25 * 128 * 128 + 128) + (25 * 128 * 64 + 64) + (25 * 64 * 32 + 32) + (25 * 32 * 32 + 32)
    decoder_norms = 2 * (128 + 128 + 64 + 32 + 32)  # the first on the bottleneck's output, then one per layer
    final = 32 * 1 + 1
    ae = encoder + encoder_norms + bottleneck + decoder + decoder_norms + final
    assert ae == 1_627_249
    vae = ae + (1024 * 128 + 128)  # a second dense layer: the code's log standard deviation
    assert vae == 1_758_449
    model = DenseAutoencoder()
    assert _count(model) == ae and _count(DenseAutoencoder(variational=True)) == vae
    convs = [m.out_channels for m in model.encoder if isinstance(m, SameConv)]
    deconvs = [m.out_channels for m in model.decoder if isinstance(m, SameConvTranspose)]
    assert convs == [32, 64, 128, 128] and deconvs == [128, 64, 32, 32]
    x_hat, mu, log_sigma = model.eval()(torch.zeros(2, 1, 128, 128))
    assert x_hat.shape == (2, 1, 128, 128) and mu.shape == (2, 128) and log_sigma is None


def test_padding_is_tensorflows_same():
    """TensorFlow pads a 5x5 stride-2 'same' convolution of an even side by 1 before and 2 after, so a
    kernel tap at (1, 1) reads pixel (2i, 2j); its transposed convolution is that convolution's adjoint."""
    conv = SameConv(1, 1, 5, stride=2, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0, 1, 1] = 1.0
    x = torch.randn(1, 1, 12, 12)
    torch.testing.assert_close(conv(x), x[..., ::2, ::2])
    conv = SameConv(2, 3, 5, stride=2, bias=False)
    deconv = SameConvTranspose(3, 2, 5, stride=2, bias=False)
    deconv.weight.data.copy_(conv.weight.data)
    y = torch.randn(1, 3, 6, 6)
    x.requires_grad_(True)
    x2 = torch.randn(1, 2, 12, 12, requires_grad=True)
    (grad,) = torch.autograd.grad((conv(x2) * y).sum(), x2)
    torch.testing.assert_close(deconv(y), grad)


def _train(name: str, pairs, out: Path, **settings) -> Path:
    block = {**TINY, **settings, "threads": 1, "device": "cpu"}
    implementation(name).train_from_files(pairs[:2], pairs[2:], block, out, modality="T1", threads=1, progress=False)
    return out / "best.pt"


@pytest.mark.parametrize("name", ["AE", "VAE"])
def test_tiny_training_and_scoring_on_the_cpu(name, tmp_path):
    shape = (24, 24, 6)  # resized to the model's 16 x 16 and back
    pairs = smooth_pairs(tmp_path / "data", shape, 3)
    best = _train(name, pairs, tmp_path / "model")
    loss_log(tmp_path / "model", [2, 4], ["step", "train_loss", "val_loss", "val_recon_error"])
    module = implementation(name)
    model, ckpt = module.load(str(best), "cpu")
    assert ckpt["method"] == name and ckpt["config"]["variational"] == (name == "VAE")
    assert ckpt["config"]["kl_weight"] == (1.0 if name == "VAE" else 0.0)  # recorded beside the settings
    assert ckpt["config"]["volume_shape"] == list(shape) and model.size == 16
    image = np.asarray(nib.load(pairs[2][0]).dataobj, np.float32)
    mask = np.asarray(nib.load(pairs[2][1]).dataobj) > 0
    settings = type("ScanSettings", (), {"device": "cpu"})()
    score = module.score(model, image, mask, settings)["score"]
    assert score.shape == shape and score.dtype == np.float32
    assert (score[~mask] == 0).all() and (score >= 0).all() and score[mask].mean() > 0
    np.testing.assert_array_equal(module.score(model, image, mask, settings)["score"], score)  # seeded VAE code
    with pytest.raises(InputError, match="trained on"):
        module.score(model, image[:, :, :4], mask[:, :, :4], settings)


def test_the_residual_is_the_reconstruction_error_at_the_models_grid(tmp_path):
    pairs = smooth_pairs(tmp_path / "data", (16, 16, 4), 3)
    model, _ = implementation("AE").load(str(_train("AE", pairs, tmp_path / "m")), "cpu")
    image = np.asarray(nib.load(pairs[0][0]).dataobj, np.float32)
    mask = np.asarray(nib.load(pairs[0][1]).dataobj) > 0
    clean = torch.from_numpy((image * mask).transpose(2, 0, 1).copy()).unsqueeze(1)
    with torch.no_grad():
        expected = (clean - model(clean)[0]).abs().squeeze(1).numpy().transpose(1, 2, 0) * mask
    score = implementation("AE").score(model, image, mask, type("S", (), {"device": "cpu"})())["score"]
    np.testing.assert_allclose(score, expected, atol=1e-6)


def test_settings_out_of_range_are_one_line(tmp_path):
    with pytest.raises(InputError, match="size 100 must be bottleneck 8 times a power of 2"):
        AEConfig(size=100)
    assert AEConfig(size=192, bottleneck=12).size == 192  # 16 = 2^4 in whole numbers (no float log2)
    with pytest.raises(InputError, match="more than 200,000,000"):
        VAEConfig(size=1024, latent=65536)
    with pytest.raises(InputError, match="kl_weight"):  # the AE has no KL term
        config_from_dict(AEConfig, {"kl_weight": 1.0}, "ae")
    with pytest.raises(InputError, match="kl_weight"):
        VAEConfig(kl_weight=-1.0)
    pairs = smooth_pairs(tmp_path / "data", (16, 16, 4), 3)
    best = _train("VAE", pairs, tmp_path / "m")
    ckpt = torch.load(best, weights_only=True)
    ckpt["config"]["width"] = 10**6  # an edited checkpoint: refused before anything is allocated
    torch.save(ckpt, tmp_path / "edited.pt")
    with pytest.raises(InputError, match="not a usable VAE checkpoint"):
        implementation("VAE").load(str(tmp_path / "edited.pt"), "cpu")
    with pytest.raises(InputError, match="not a AE one|not an AE one"):
        implementation("AE").load(str(best), "cpu")


@pytest.mark.parametrize("name", ["AE", "VAE"])
def test_run_folds_and_bundle_give_the_same_map(name, tmp_path, monkeypatch):
    """A model trained here on the bundle tests' grid (16 x 16: the model's own), put into a run's two
    folds, exported, and applied with --model and --from-run: the same bytes."""
    c = make_case(tmp_path / "in")
    run = make_run(tmp_path / "wf", c)
    layout = RunLayout(run)
    pairs = [(c["image"], c["mask"])] * 3  # trained on the case itself: the scan's intensity scale is the model's
    best = _train(name, pairs, tmp_path / "m")
    for k in (0, 1):
        Path(layout.checkpoint("T1", k, name)).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(best, layout.checkpoint("T1", k, name))
        Path(layout.threshold(name, "T1", f"fold{k}")).parent.mkdir(parents=True)
        Path(layout.threshold(name, "T1", f"fold{k}")).write_text(json.dumps({"threshold": 0.1}))
    bundle = tmp_path / f"{name}.zip"
    assert cli.main(["export", str(run), "--modality", "T1", "--method", name, "--out", str(bundle), "--quiet"]) == 0
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", fake_prepare)
    assert cli.main(predict_argv(c, tmp_path / "b" / "x.nii.gz", model=bundle)) == 0
    assert cli.main(predict_argv(c, tmp_path / "r" / "x.nii.gz", "--method", name, ckpt=False, from_run=run)) == 0
    heat = tmp_path / "b" / "x.nii.gz"
    assert heat.read_bytes() == (tmp_path / "r" / "x.nii.gz").read_bytes()
    assert np.count_nonzero(np.asarray(nib.load(heat).dataobj)) > 0


def test_paper_dry_run_trains_ae_and_vae_per_modality_and_fold(paper_dry_run):
    res = paper_dry_run
    assert res.returncode == 0, res.stderr + res.stdout
    jobs = dry_run_jobs(res.stdout)
    for name, rule in (("AE", "train_ae"), ("VAE", "train_vae")):
        trainings = [j for j in jobs if j["rule"] == rule]
        assert sorted(j["wildcards"] for j in trainings) == sorted(
            f"modality={m}, fold={k}" for m in ("T1", "T2") for k in range(5)
        )
        assert all("gpu=1" in j["resources"] and f"models/{name}/" in j["output"] for j in trainings)
        scored = {j["wildcards"] for j in jobs if j["rule"] == "score_lesions" and f"method={name}," in j["wildcards"]}
        assert scored and f"export_bundle_{name}" in {j["rule"] for j in jobs}


def test_the_schema_and_the_settings_name_the_same_keys():
    """Each key of the `ae:`/`vae:` schema is a setting of the dataclass and each setting a schema key
    (but those the workflow sets: device, threads, modality; and the name written into checkpoints)."""
    import dataclasses

    import yaml

    schema = yaml.safe_load((Path(__file__).resolve().parents[2] / "config" / "schema.yaml").read_text())
    keys = set(schema["definitions"]["autoencoder"]["properties"]) - {"threads"}
    internal = {"device", "num_threads", "modality", "method"}
    assert {f.name for f in dataclasses.fields(VAEConfig)} - internal == keys
    assert {f.name for f in dataclasses.fields(AEConfig)} - internal == keys - {"kl_weight"}
    assert schema["properties"]["ae"]["not"] == {"required": ["kl_weight"]}


def test_an_interrupted_vae_training_resumes_to_the_same_weights(tmp_path, monkeypatch):
    """The harness's promise for the VAE (its code samples and dropout draw from the saved streams):
    stopped after the step-2 checkpoint and run again, it ends with the uninterrupted run's weights."""
    from patch2loc.methods.autoencoder.train import AutoencoderTask

    pairs = smooth_pairs(tmp_path / "data", (16, 16, 4), 3)
    straight, resumed = interrupted_and_resumed(
        AutoencoderTask, lambda folder: _train("VAE", pairs, tmp_path / folder, checkpoint_every=2), monkeypatch
    )
    assert straight["step"] == 4
    assert_same_weights(resumed, straight)

"""The denoising autoencoder: architecture, coarse noise, training in the shared harness, scoring."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from patch2loc.errors import InputError
from patch2loc.methods.dae import train as dae_train
from patch2loc.methods.dae.model import DenoisingUNet, WSConv2d, group_count
from patch2loc.methods.dae.noise import coarse_noise, node_spacing, noise_cells
from patch2loc.methods.dae.score import anomaly_map, load_model
from patch2loc.methods.dae.train import DAEConfig, train
from patch2loc.training.training_data import TrainingData
from patch2loc.run.checkpoint import read_checkpoint
from tests.helpers.checkpoints import as_written

SHAPE = (32, 32, 8)


def test_reference_width_parameter_count_and_shapes():
    model = DenoisingUNet(width=64, depth=4)
    # Counted by hand from the reference architecture: 4 levels of two 3x3 WS convolutions with
    # GroupNorm (64, 128, 256, 512 channels), 3 transposed 2x2 convolutions, a 1x1 output.
    assert sum(p.numel() for p in model.parameters()) == 7_701_825
    assert [group_count(c) for c in (64, 128, 256, 512)] == [8, 16, 16, 32]
    assert sum(isinstance(m, WSConv2d) for m in model.modules()) == 14
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in model.modules()) == 3
    small = DenoisingUNet(width=4)
    assert small(torch.zeros(2, 1, 30, 33)).shape == (2, 1, 30, 33)  # padded to a multiple of 8, cropped back


def test_weight_standardisation_centres_and_scales_each_filter():
    conv = WSConv2d(3, 5, kernel_size=3, padding=1, padding_mode="reflect")
    with torch.no_grad():
        conv.weight.mul_(7.0).add_(3.0)
    x = torch.randn(1, 3, 9, 9)
    w = conv.weight - conv.weight.mean(dim=(1, 2, 3), keepdim=True)
    w = w / (w.flatten(1).std(dim=1).view(-1, 1, 1, 1) + 1e-5)
    expected = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect"), w, conv.bias)
    torch.testing.assert_close(conv(x), expected)
    # a filter scaled by 7 and shifted by 3 acts like the standardised one: scale-free
    unscaled = WSConv2d(3, 5, kernel_size=3, padding=1, padding_mode="reflect")
    unscaled.load_state_dict({"weight": (conv.weight - 3.0) / 7.0, "bias": conv.bias})
    torch.testing.assert_close(conv(x), unscaled(x), atol=1e-4, rtol=1e-4)


def test_coarse_noise_std_cell_size_and_foreground():
    side, spacing = 192, 1.0
    cells = noise_cells(side, spacing, 15.9)
    assert cells == 13 and node_spacing(side, cells) * spacing == pytest.approx(15.9, abs=0.1)  # about 15 mm
    assert noise_cells(64, 3.0, 15.9) == 13  # the demo's 3 mm grid: the same distance in mm
    gen = torch.Generator().manual_seed(0)
    fg = torch.ones(400, 1, side, side, dtype=torch.bool)
    field = coarse_noise(fg, (cells, cells), 0.2, gen, roll=False)
    nodes = torch.round(torch.arange(cells) * node_spacing(side, cells)).long()
    at_nodes = field[:, 0][:, nodes][:, :, nodes]
    assert at_nodes.std().item() == pytest.approx(0.2, rel=0.03)  # the stated std, on the grid
    assert abs(at_nodes.mean().item()) < 0.01
    # Coarse: between two nodes (16 pixels apart here) the field is the line between their values.
    line = coarse_noise(torch.ones(50, 1, 97, 97, dtype=torch.bool), (7, 7), 0.2, gen, roll=False)[:, 0, 0]
    assert node_spacing(97, 7) == 16
    torch.testing.assert_close(line[:, 4], 0.75 * line[:, 0] + 0.25 * line[:, 16], atol=1e-5, rtol=0)
    torch.testing.assert_close(line[:, 24], 0.5 * line[:, 16] + 0.5 * line[:, 32], atol=1e-5, rtol=0)
    # Zero outside the foreground, rolled by a random offset inside it.
    mask = torch.zeros(2, 1, 64, 64, dtype=torch.bool)
    mask[:, :, 10:50, 20:40] = True
    rolled = coarse_noise(mask, (13, 13), 0.2, torch.Generator().manual_seed(1))
    assert torch.all(rolled[~mask] == 0) and torch.count_nonzero(rolled[mask]) == mask.sum()
    plain = coarse_noise(mask, (13, 13), 0.2, torch.Generator().manual_seed(1), roll=False)
    assert not torch.equal(rolled, plain)


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    x, y, _ = np.meshgrid(*[np.linspace(-1, 1, s) for s in SHAPE], indexing="ij")
    masks = np.broadcast_to(x**2 + y**2 < 0.8, (n, *SHAPE)).copy()
    images = (0.5 + 0.3 * np.sin(3 * x) + 0.2 * y + 0.05 * rng.random((n, *SHAPE))).astype(np.float32)
    return images, masks


def _training_data() -> TrainingData:
    tr, trm = _data(3, 0)
    va, vam = _data(1, 1)
    return TrainingData(tr, trm, va, vam, {"train": ["a", "b", "c"], "val": ["v"]}, (6.0, 6.0, 6.0))


def _cfg(**kw) -> DAEConfig:
    base = dict(
        steps=40,
        batch_size=4,
        lr=1e-3,
        width=8,
        val_every=10,
        val_batches=2,
        device="cpu",
        num_threads=1,
        modality="T2",
    )
    return DAEConfig(**{**base, **kw})


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def _weights(path):
    return torch.load(path, map_location="cpu", weights_only=False)["model"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("dae")
    return out, train(_training_data(), _cfg(), out, progress=False)


def test_a_few_dozen_steps_lower_the_validation_loss(trained):
    out, summary = trained
    rows = _rows(out / "loss.csv")
    assert list(rows[0]) == ["step", "train_loss", "val_loss", "val_recon_error"]
    assert [int(r["step"]) for r in rows] == [10, 20, 30, 40] and summary["step"] == 40
    first, last = float(rows[0]["val_loss"]), float(rows[-1]["val_loss"])
    assert last < 0.5 * first, rows
    assert float(rows[-1]["val_recon_error"]) < float(rows[0]["val_recon_error"])


def test_checkpoint_records_method_modality_grid_and_loads_safely(trained, tmp_path):
    out, summary = trained
    ckpt = read_checkpoint(out / "best.pt", method="DAE")
    assert ckpt["method"] == "DAE" and ckpt["modality"] == "T2"
    assert ckpt["config"]["volume_shape"] == list(SHAPE) and ckpt["config"]["spacing"] == [6.0, 6.0, 6.0]
    assert ckpt["config"]["noise_cells"] == [noise_cells(32, 6.0, 15.9)] * 2
    assert ckpt["step"] == summary["best_step"]
    model, _ = load_model(out / "best.pt")
    images, masks = _data(1, 5)
    score = anomaly_map(model, images[0], masks[0])
    assert score.shape == SHAPE and score.dtype == np.float32
    assert np.all(score[~masks[0]] == 0) and np.all(score >= 0) and score[masks[0]].max() > 0
    with pytest.raises(InputError, match="trained on"):
        anomaly_map(model, images[0][:, :, :4], masks[0][:, :, :4])
    # Each method refuses the other's checkpoint with one line naming the file.
    from patch2loc.methods.patch2loc.model import load_model as load_patch2loc

    with pytest.raises(InputError, match="a DAE checkpoint, not a Patch2Loc one"):
        load_patch2loc(str(out / "best.pt"))
    torch.save(as_written({"model": {}, "patch_size": 4}), tmp_path / "p2l.pt")
    with pytest.raises(InputError, match="a Patch2Loc checkpoint, not a DAE one"):
        load_model(tmp_path / "p2l.pt")


def test_interrupted_training_resumes_bit_identically(trained, tmp_path, monkeypatch):
    ref, _ = trained
    real = dae_train.DAETask.evaluate
    calls = {"n": 0}

    def crashing(self):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self)

    monkeypatch.setattr(dae_train.DAETask, "evaluate", crashing)
    with pytest.raises(KeyboardInterrupt):
        train(_training_data(), _cfg(), tmp_path, progress=False)
    assert torch.load(tmp_path / "last.pt", weights_only=False)["step"] == 20
    monkeypatch.setattr(dae_train.DAETask, "evaluate", real)
    train(_training_data(), _cfg(), tmp_path, progress=False)
    for name in ("last.pt", "best.pt"):
        a, b = _weights(ref / name), _weights(tmp_path / name)
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), name
    assert _rows(ref / "loss.csv") == _rows(tmp_path / "loss.csv")
    with pytest.raises(InputError, match="width"):  # other settings: refused, not silently mixed
        train(_training_data(), _cfg(width=4), tmp_path, progress=False)


def test_config_checks():
    with pytest.raises(InputError, match="unknown key"):
        DAEConfig.from_dict({"steps": 3, "learning_rate": 0.1})
    with pytest.raises(InputError, match="checkpoint_every"):
        _cfg(checkpoint_every=15)
    with pytest.raises(InputError, match="amp"):
        _cfg(amp="fp8")

"""C input channels (co-registered contrasts) for Patch2Loc and the DAE; one channel is today's exactly."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from patch2loc.methods.dae import train as dae_train
from patch2loc.methods.dae.score import anomaly_map
from patch2loc.methods.dae.score import load_model as load_dae
from patch2loc.methods.patch2loc import train as p2l_train
from patch2loc.methods.patch2loc.heatmap import score_volume
from patch2loc.methods.patch2loc.model import load_model as load_p2l
from patch2loc.training.training_data import TrainingData
from patch2loc.run.checkpoint import read_checkpoint
from tests.helpers.checkpoints import RANGE, as_written

SHAPE = (16, 16, 6)


def _volumes(n: int, channels: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n tiny 'brains' (an ellipsoid mask, smooth random intensities): [n, X, Y, Z] when channels
    is None (today's input), else [n, C, X, Y, Z]."""
    rng = np.random.default_rng(seed)
    x, y, z = np.meshgrid(*(np.linspace(-1, 1, s) for s in SHAPE), indexing="ij")
    mask = (x**2 + y**2 + 0.5 * z**2) < 0.8
    masks = np.repeat(mask[None], n, axis=0)
    images = (rng.normal(0.5, 0.2, (n, channels or 1, *SHAPE)) + x[None, None]).astype(np.float32)
    return (images[:, 0] if channels is None else images), masks


def _train_p2l(out, channels):
    images, masks = _volumes(3, channels, seed=0)
    cfg = p2l_train.TrainConfig(steps=3, patches_per_step=32, val_every=3, val_batches=1, patch_size=4, device="cpu")
    cfg.num_threads = 1
    p2l_train.train(images[:2], masks[:2], images[2:], masks[2:], cfg, out, progress=False)
    return images[2], masks[2]


def _train_dae(out, channels):
    images, masks = _volumes(3, channels, seed=1)
    data = TrainingData(images[:2], masks[:2], images[2:], masks[2:], {"train": ["a", "b"], "val": ["c"]}, (1, 1, 1))
    cfg = dae_train.DAEConfig(steps=3, batch_size=2, width=4, depth=3, val_every=3, val_batches=1, device="cpu")
    cfg.num_threads = 1
    dae_train.train(data, cfg, out, progress=False)
    return images[2], masks[2]


def one_channel_arrays(tmp) -> dict[str, np.ndarray]:
    """Today's one-channel input ([S, X, Y, Z]) through the code: Patch2Loc's weights after 3 training
    steps (a fixed sample of 4,096 of them), the map of an untrained seeded Patch2Loc (scoring without
    training), the DAE's weights after 3 steps and its map. Uses only calls the code before C channels
    had: the reference file was recorded with the same calls on that code."""
    from patch2loc.methods.patch2loc.model import Patch2LocNet

    torch.set_num_threads(1)
    image, mask = _train_p2l(f"{tmp}/p2l", None)
    model, _ = load_p2l(f"{tmp}/p2l/last.pt")
    weights = np.concatenate([t.numpy().ravel() for t in model.state_dict().values()]).astype(np.float64)
    torch.manual_seed(0)
    untrained = Patch2LocNet(4).eval()
    image_d, mask_d = _train_dae(f"{tmp}/dae", None)
    dae, _ = load_dae(f"{tmp}/dae/last.pt")
    return {
        "p2l_weights": weights[np.random.default_rng(0).choice(weights.size, 4096, replace=False)],
        "p2l_untrained_map": score_volume(untrained, image, mask, device="cpu", amp="none", region="all").score,
        "dae_weights": np.concatenate([t.numpy().ravel() for t in dae.state_dict().values()]),
        "dae_map": anomaly_map(dae, image_d, mask_d, "cpu"),
    }


# Recorded by `one_channel_arrays` on the code before C channels existed (docs/measurements.md names it),
# torch 2.14.1, an Intel Xeon with AMX. The relative L2 distance to it that a run may have on another CPU:
# measured there with oneDNN held to AVX2 or SSE4.1 and ATen's kernels at avx2 or default (the AMD AVX2
# machine's 2.4e-4 weight-sum difference is reproduced by oneDNN at AVX2), against another training seed:
#   Patch2Loc's weights: kernels 0.049-0.083 (Adam turns tiny gradient differences into whole steps),
#                        another seed 0.85
#   the untrained map:   kernels <= 1.6e-8;  the DAE's weights <= 5.4e-8 (seed 0.77);  its map <= 5.5e-7 (seed 0.81)
# The trained Patch2Loc's map is not compared across CPUs: kernels move it as much as a seed (0.04-0.08).
TODAY = Path(__file__).parent / "data" / "one_channel_today.npz"
TOLERANCE = {"p2l_weights": 0.25, "p2l_untrained_map": 1e-5, "dae_weights": 1e-5, "dae_map": 1e-4}
TODAY_NETWORKS = {"p2l": (11_848_068, "8f54c4b60733e4b7"), "dae": (7_701_825, "c6ebfd9318f823a5")}


def _names_and_shapes(model) -> tuple[int, str]:
    layout = repr([(k, tuple(v.shape)) for k, v in model.state_dict().items()])
    return sum(p.numel() for p in model.parameters()), hashlib.sha256(layout.encode()).hexdigest()[:16]


def test_one_channel_is_todays_network():
    from patch2loc.methods.dae.model import DenoisingUNet
    from patch2loc.methods.patch2loc.model import Patch2LocNet

    assert _names_and_shapes(Patch2LocNet(24)) == TODAY_NETWORKS["p2l"]
    assert _names_and_shapes(Patch2LocNet(24, channels=1)) == TODAY_NETWORKS["p2l"]
    assert _names_and_shapes(DenoisingUNet(64, 4)) == TODAY_NETWORKS["dae"]
    # C channels: only the first convolution (and the DAE's input/output convolutions) grow
    two = Patch2LocNet(24, channels=2)
    assert two.encoder.conv1.weight.shape == (64, 2, 3, 3)
    assert sum(p.numel() for p in two.parameters()) == 11_848_068 + 64 * 9
    dae = DenoisingUNet(64, 4, channels=2)
    assert sum(p.numel() for p in dae.parameters()) == 7_701_825 + 64 * 9 + 64 + 1


def test_one_channel_trains_and_scores_as_today_on_any_cpu(tmp_path):
    threads = torch.get_num_threads()
    try:
        arrays = one_channel_arrays(tmp_path)
    finally:
        torch.set_num_threads(threads)
    today = np.load(TODAY)
    for key, tolerance in TOLERANCE.items():
        distance = np.linalg.norm(arrays[key].ravel() - today[key]) / np.linalg.norm(today[key])
        assert distance <= tolerance, (key, distance)


def test_two_contrast_sampler_gathers_the_same_window_of_each_contrast():
    from patch2loc.methods.patch2loc.sampling import PatchSampler

    images, masks = _volumes(2, 2, seed=3)
    sampler = PatchSampler(images, masks, 4, 0.2)
    patches, target, slice_pos = sampler.sample(64, torch.Generator().manual_seed(0))
    assert patches.shape == (64, 2, 4, 4) and patches.is_contiguous()
    one, _, _ = PatchSampler(images[:, 1], masks, 4, 0.2).sample(64, torch.Generator().manual_seed(0))
    torch.testing.assert_close(patches[:, 1:], one, rtol=0, atol=0)  # same draw, contrast 1's pixels
    assert not torch.equal(patches[:, 0], patches[:, 1])


def test_two_contrast_patch2loc_trains_records_channels_and_scores(tmp_path):
    image, mask = _train_p2l(tmp_path, 2)
    ckpt = read_checkpoint(str(tmp_path / "last.pt"))
    assert ckpt["config"]["channels"] == 2 and len(ckpt["config"]["intensity_ranges"]) == 2
    assert ckpt["config"]["volume_shape"] == list(SHAPE)
    model, _ = load_p2l(str(tmp_path / "last.pt"))
    assert model.channels == 2
    heat = score_volume(model, image, mask, device="cpu", amp="none", region="all")
    assert heat.score.shape == SHAPE and np.isfinite(heat.score).all()
    # the second contrast is seen: changing it changes the map
    other = image.copy()
    other[1] = other[1][::-1]
    assert not np.array_equal(score_volume(model, other, mask, device="cpu", amp="none").score, heat.score)
    # the fast path agrees with the simple reference on C channels
    from patch2loc.methods.patch2loc.heatmap import reference_score_volume

    ref = reference_score_volume(model, image, mask)
    np.testing.assert_allclose(heat.score, ref.score, rtol=1e-4, atol=1e-4)


def test_two_contrast_dae_trains_and_scores(tmp_path):
    from patch2loc.methods.dae.noise import coarse_noise

    image, mask = _train_dae(tmp_path, 2)
    ckpt = read_checkpoint(str(tmp_path / "last.pt"), method="DAE")
    assert ckpt["config"]["channels"] == 2
    model, _ = load_dae(str(tmp_path / "last.pt"))
    assert model.channels == 2 and model.last.out_channels == 2
    amap = anomaly_map(model, image, mask, "cpu")
    assert amap.shape == SHAPE and np.isfinite(amap).all() and (amap[~mask] == 0).all()
    # independent coarse noise per contrast (the reference's), zero outside the foreground
    fg = torch.ones(200, 1, 16, 16, dtype=torch.bool)
    noise = coarse_noise(fg, (4, 4), 0.2, torch.Generator().manual_seed(0), channels=2)
    assert noise.shape == (200, 2, 16, 16)
    assert abs(np.corrcoef(noise[:, 0].flatten(), noise[:, 1].flatten())[0, 1]) < 0.05


def _one_line_error(call) -> str:
    from patch2loc.errors import InputError

    try:
        call()
    except InputError as exc:
        assert "\n" not in str(exc)
        return str(exc)
    raise AssertionError("no InputError")


def test_a_channel_count_mismatch_is_one_line(tmp_path):
    from patch2loc.methods.dae.model import DenoisingUNet
    from patch2loc.methods.patch2loc.model import Patch2LocNet

    image, mask = _volumes(1, 2, seed=4)
    image, mask = image[0], mask[0]
    two, one = Patch2LocNet(4, channels=2), Patch2LocNet(4)
    assert "1 contrast(s) given" in _one_line_error(lambda: score_volume(two, image[0], mask, device="cpu"))
    assert "trained on 1" in _one_line_error(lambda: score_volume(one, image, mask, device="cpu"))
    dae = DenoisingUNet(4, 3, channels=2).eval()
    assert "trained on 2" in _one_line_error(lambda: anomaly_map(dae, image[0], mask, "cpu"))
    # a checkpoint whose recorded channel count does not fit its weights
    config = {"channels": 3, "intensity_ranges": [RANGE] * 3}
    torch.save(as_written({"model": two.state_dict(), "patch_size": 4, "config": config}), tmp_path / "bad.pt")
    assert "conv1" in _one_line_error(lambda: load_p2l(str(tmp_path / "bad.pt")))
    # no `channels` recorded: not a checkpoint patch2loc train writes
    torch.save(as_written({"model": one.state_dict(), "patch_size": 4}) | {"config": {}}, tmp_path / "none.pt")
    assert "config.volume_shape" in _one_line_error(lambda: load_p2l(str(tmp_path / "none.pt")))
    ckpt = as_written({"model": one.state_dict(), "patch_size": 4})
    del ckpt["config"]["channels"]
    torch.save(ckpt, tmp_path / "no_channels.pt")
    assert "config.channels is 'None'" in _one_line_error(lambda: load_p2l(str(tmp_path / "no_channels.pt")))


def test_resuming_with_another_channel_count_is_one_line(tmp_path):
    _train_p2l(tmp_path / "a", None)
    assert "different ['channels']" in _one_line_error(lambda: _train_p2l(tmp_path / "a", 2))
    _train_p2l(tmp_path / "b", 2)  # back to one contrast: the recorded channel count is compared too
    assert "different ['channels']" in _one_line_error(lambda: _train_p2l(tmp_path / "b", None))

"""C input channels (co-registered contrasts) for Patch2Loc and the DAE; one channel is today's exactly."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from patch2loc.methods.dae import train as dae_train
from patch2loc.methods.dae.score import anomaly_map
from patch2loc.methods.dae.score import load_model as load_dae
from patch2loc.methods.patch2loc import train as p2l_train
from patch2loc.methods.patch2loc.heatmap import score_volume
from patch2loc.methods.patch2loc.model import load_model as load_p2l
from patch2loc.methods.training_data import TrainingData
from patch2loc.run.checkpoint import read_checkpoint

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


def _digest(arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()[:16]


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


def one_channel_digests(tmp) -> dict:
    """Digests of the weights after 3 training steps and of the heatmap, for today's one-channel
    input ([S, X, Y, Z]): Patch2Loc, then the DAE."""
    torch.set_num_threads(1)
    image, mask = _train_p2l(f"{tmp}/p2l", None)
    model, _ = load_p2l(f"{tmp}/p2l/last.pt")
    heat = score_volume(model, image, mask, device="cpu", amp="none", region="all").score
    image_d, mask_d = _train_dae(f"{tmp}/dae", None)
    dae, _ = load_dae(f"{tmp}/dae/last.pt")
    arrays = {
        "p2l_weights": [t.numpy() for t in model.state_dict().values()],
        "p2l_heatmap": [heat],
        "dae_weights": [t.numpy() for t in dae.state_dict().values()],
        "dae_map": [anomaly_map(dae, image_d, mask_d, "cpu")],
    }
    digests = {k: _digest(v) for k, v in arrays.items()}
    sums = {k: float(sum(np.abs(a.astype(np.float64)).sum() for a in v)) for k, v in arrays.items()}
    return digests, sums


# Recorded on the unmodified code (commit d11a849, before C channels existed) with
# `one_channel_digests(tmp)` above and torch 2.14.1 on an AVX512 CPU (this project's build machine,
# 2026-11-25); the (name, shape) digests with
# sha256(repr([(name, tuple(shape)) for name, shape in state_dict.items()])).
TODAY = {"p2l_weights": "d4b66c46cb820121", "p2l_heatmap": "0557968c54c46252"}
TODAY |= {"dae_weights": "864295ea7729ea8b", "dae_map": "84f5bdb77fa38610"}
TODAY_SUMS = {"p2l_weights": 260895.75257931117, "p2l_heatmap": 20724.201924324036}
TODAY_SUMS |= {"dae_weights": 504.37966329054666, "dae_map": 296.02920525334775}
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


def test_one_channel_trains_and_scores_exactly_as_today(tmp_path):
    threads = torch.get_num_threads()
    try:
        digests, sums = one_channel_digests(tmp_path)
    finally:
        torch.set_num_threads(threads)
    if torch.backends.cpu.get_cpu_capability() == "AVX512":  # the recording machine's kernels: bit for bit
        assert digests == TODAY
    # Other CPUs may sum floats in another order: the runs must still agree to float precision
    # (another draw of patches, slices or noise would move these sums by far more).
    for key, value in TODAY_SUMS.items():
        assert abs(sums[key] - value) <= 1e-6 * value, key


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
    torch.save({"model": two.state_dict(), "patch_size": 4, "config": {"channels": 3}}, tmp_path / "bad.pt")
    assert "conv1" in _one_line_error(lambda: load_p2l(str(tmp_path / "bad.pt")))
    # no `channels` recorded (every checkpoint before contrasts): one channel, loads unchanged
    torch.save({"model": one.state_dict(), "patch_size": 4, "config": {}}, tmp_path / "old.pt")
    assert load_p2l(str(tmp_path / "old.pt"))[0].channels == 1


def test_resuming_with_another_channel_count_is_one_line(tmp_path):
    _train_p2l(tmp_path / "a", None)
    assert "different ['channels']" in _one_line_error(lambda: _train_p2l(tmp_path / "a", 2))
    _train_p2l(tmp_path / "b", 2)  # back to one contrast: the recorded weights do not fit
    assert "do not fit" in _one_line_error(lambda: _train_p2l(tmp_path / "b", None))

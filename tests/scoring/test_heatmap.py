"""Dense scoring against a naive per-voxel loop, on tiny volumes with a patch-4 model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patch2loc.methods.patch2loc import heatmap as H
from patch2loc.errors import InputError
from patch2loc.methods.patch2loc.model import Patch2LocNet
from patch2loc.scoring import postprocess


def _model(patch: int = 4, seed: int = 0, centre: float = 0.0) -> Patch2LocNet:
    """Random network with non-trivial BatchNorm statistics; `centre` shifts the mean output
    into the 0-100 percent range a trained model produces."""
    torch.manual_seed(seed)
    net = Patch2LocNet(patch)
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    with torch.no_grad():
        net.mean_head[-1].bias += centre
    return net.eval()


def _volume(shape=(12, 12, 3), seed: int = 0):
    rng = np.random.default_rng(seed)
    vol = rng.normal(1.0, 0.5, size=shape).astype(np.float32)
    X, Y, _ = shape
    xx, yy = np.meshgrid(np.arange(X), np.arange(Y), indexing="ij")
    disc = (xx - X / 2) ** 2 + (yy - Y / 2) ** 2 < (0.35 * min(X, Y)) ** 2
    mask = np.repeat(disc[:, :, None], shape[2], axis=2)
    return vol, mask


def _naive(net: Patch2LocNet, vol: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Score by the definitions, one voxel at a time, patches built by explicit loops."""
    X, Y, Z = vol.shape
    P = net.patch_size
    img = vol * mask
    patches, pos, target = [], [], []
    for z in range(Z):
        for r in range(X):
            for c in range(Y):
                patch = np.zeros((P, P), np.float32)
                for i in range(P):
                    for j in range(P):
                        rr, cc = r - P // 2 + i, c - P // 2 + j
                        if 0 <= rr < X and 0 <= cc < Y:
                            patch[i, j] = img[rr, cc, z]
                patches.append(patch)
                pos.append(100.0 * z / Z)
                target.append((100.0 * r / X, 100.0 * c / Y))
    with torch.no_grad():
        mean, logvar = net(torch.from_numpy(np.stack(patches))[:, None], torch.tensor(pos))
    mean, logvar, target = mean.double().numpy(), logvar.double().numpy(), np.array(target)
    score = np.log(((target - mean) ** 2).sum(1) + 1e-10) + 0.5 * logvar.sum(1)
    # loop order was z, r, c
    return score.reshape(Z, X, Y).transpose(1, 2, 0)


def test_dense_equals_naive_loop():
    net = _model()
    vol, mask = _volume()
    naive = _naive(net, vol, mask)
    res = H.score_volume(net, vol, mask, region="all", amp="none", device="cpu", batch_size=50)
    assert res.score.dtype == np.float32 and res.score.shape == vol.shape
    np.testing.assert_allclose(res.score, naive, atol=1e-4, rtol=1e-5)
    np.testing.assert_allclose(res.score, res.log_error + res.log_variance, atol=1e-5)
    assert res.evaluated.all() and res.n_patches == vol.size
    ref = H.reference_score_volume(net, vol, mask)
    np.testing.assert_allclose(ref.score, naive, atol=1e-4, rtol=1e-5)


def test_odd_patch_and_non_square_slice():
    net = _model(patch=3, seed=1)
    vol, mask = _volume(shape=(9, 7, 2), seed=1)
    res = H.score_volume(net, vol, mask, region="all", amp="none", device="cpu")
    np.testing.assert_allclose(res.score, _naive(net, vol, mask), atol=1e-4, rtol=1e-5)


def test_dilated_region_gives_identical_postprocessed_map():
    net = _model(seed=2)
    vol, mask = _volume(shape=(20, 20, 8), seed=2)
    mask[:, :, :2] = False  # brain absent from the bottom slices: the dilation is 3D
    full = H.score_volume(net, vol, mask, region="all", amp="none", device="cpu")
    dil = H.score_volume(net, vol, mask, region="dilated", margin=3, amp="none", device="cpu", background=-7.0)
    assert not dil.evaluated.all()  # the test must skip some voxels to mean anything
    assert dil.n_patches < full.n_patches
    a = postprocess(full.score, mask, median_size=7)
    b = postprocess(dil.score, mask, median_size=7)
    np.testing.assert_array_equal(a, b)
    # evaluating only the brain is not enough: the median reads up to 3 voxels outside it
    only = H.score_volume(net, vol, mask, region="mask", amp="none", device="cpu")
    assert not np.array_equal(postprocess(only.score, mask), a)
    assert (dil.score[~dil.evaluated] == -7.0).all()


def test_bf16_close_to_fp32():
    net = _model(seed=3, centre=50.0)
    vol, mask = _volume(seed=3)
    fp32 = H.score_volume(net, vol, mask, region="mask", amp="none", device="cpu", return_predictions=True)
    bf16 = H.score_volume(net, vol, mask, region="mask", amp="bf16", device="cpu", return_predictions=True)
    diff = np.abs(fp32.score - bf16.score)[mask]
    # tolerance: bf16 keeps 8 mantissa bits in the encoder; the heads run in fp32
    assert diff.max() < 0.01, diff.max()  # measured ~5e-4 on random networks
    assert np.abs(fp32.mean - bf16.mean)[mask].max() < 0.1


def test_stride_two_matches_on_grid_and_interpolates():
    net = _model(seed=4)
    vol, mask = _volume(shape=(12, 10, 2), seed=4)
    full = H.score_volume(net, vol, mask, region="all", amp="none", device="cpu")
    s2 = H.score_volume(net, vol, mask, region="all", stride=2, amp="none", device="cpu")
    np.testing.assert_allclose(s2.score[::2, ::2], full.score[::2, ::2], atol=1e-5)
    # (1, 1) lies between the grid points (0|2, 0|2): the mean of the four
    four = full.score[[0, 0, 2, 2], [0, 2, 0, 2]].mean(axis=0)
    np.testing.assert_allclose(s2.score[1, 1], four, atol=1e-5)
    # (11, 9) is beyond the last grid row (10) and column (8): clamped to the nearest grid point
    np.testing.assert_allclose(s2.score[11, 9], full.score[10, 8], atol=1e-5)
    assert s2.n_patches == 6 * 5 * 2
    # with a region, the grid points around it are run and the rest is background
    s2m = H.score_volume(net, vol, mask, region="mask", stride=2, amp="none", device="cpu")
    np.testing.assert_allclose(s2m.score[mask], s2.score[mask], atol=1e-5)
    assert (s2m.score[~mask] == 0).all()


def test_predict_at_matches_dense_and_predictions():
    net = _model(seed=5)
    vol, mask = _volume(seed=5)
    dense = H.score_volume(net, vol, mask, region="all", amp="none", device="cpu", return_predictions=True)
    centres = np.array([[0, 0, 0], [5, 6, 1], [11, 11, 2], [3, 9, 2]])
    out = H.predict_at(net, vol, mask, centres, amp="none", device="cpu")
    x, y, z = centres.T
    np.testing.assert_allclose(out["score"], dense.score[x, y, z], atol=1e-5)
    np.testing.assert_allclose(out["mean"], dense.mean[x, y, z], atol=1e-5)
    target = np.stack([100 * x / 12, 100 * y / 12], 1)
    expect = np.log(((target - out["mean"]) ** 2).sum(1) + 1e-10) + 0.5 * out["logvar"].sum(1)
    np.testing.assert_allclose(out["score"], expect, atol=1e-4)
    with pytest.raises(ValueError):
        H.predict_at(net, vol, mask, np.array([[12, 0, 0]]), device="cpu")


def test_bad_inputs_raise():
    net = _model()
    vol, mask = _volume()
    with pytest.raises(InputError, match="mask shape"):
        H.score_volume(net, vol, mask[:, :, :2], device="cpu")
    bad = vol.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        H.score_volume(net, bad, mask, device="cpu")
    with pytest.raises(ValueError):
        H.score_volume(net, vol, mask, region="everything", device="cpu")


def test_amp_resolution():
    cpu = torch.device("cpu")
    assert H.resolve_amp("none", cpu) is None
    assert H.resolve_amp("bf16", cpu) is torch.bfloat16
    assert H.resolve_amp("auto", cpu) is (torch.bfloat16 if H.cpu_supports_bf16() else None)
    with pytest.raises(ValueError):
        H.resolve_amp("int8", cpu)

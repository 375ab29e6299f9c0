"""PHANES' masks (docs/phanes.md): the synthetic ellipses, and the anomaly mask from a residual and a
saliency map, on crafted inputs against hand-worked or direct numbers."""

from __future__ import annotations

import numpy as np
import torch

from patch2loc.methods.phanes import masks as pm


def _pixels(m: torch.Tensor) -> set[tuple[int, int]]:
    return {tuple(p) for p in torch.nonzero(m).tolist()}


def test_an_ellipse_follows_opencv_conventions():
    """Centre (x = column, y = row), axes along x then y, angle in degrees; boundary pixels are in."""
    flat = pm.ellipse(21, (5, 12), (2, 1), 0)
    assert _pixels(flat) == {(12, c) for c in range(3, 8)} | {(11, 5), (13, 5)}
    upright = pm.ellipse(21, (10, 10), (3, 1), 90)
    assert _pixels(upright) == {(r, 10) for r in range(7, 14)} | {(10, 9), (10, 11)}
    tilted = pm.ellipse(41, (20, 20), (10, 1), 45)  # along the diagonal that goes down to the right
    assert tilted[25, 25] == 1 and tilted[15, 25] == 0 and tilted[25, 15] == 0


def test_synthetic_masks_are_deterministic_and_inside_the_image():
    def draw(seed, batch=4, size=128):
        return pm.synthetic_masks(batch, size, torch.Generator().manual_seed(seed))

    a, b, c = draw(0), draw(0), draw(1)
    assert a.shape == (4, 1, 128, 128) and torch.equal(a, b) and not torch.equal(a, c)
    assert set(a.unique().tolist()) == {0.0, 1.0}
    for seed in range(5):
        m = draw(seed)
        assert (m.sum((1, 2, 3)) > 0).all() and not torch.equal(m[0], m[1])  # each image its own ellipses
        inside = torch.zeros(128, 128)
        inside[32 - 25 : 96 + 25, 32 - 25 : 96 + 25] = 1  # centres in [32, 96), semi-axes under 25 here
        assert (m * (1 - inside)).sum() == 0
    small = draw(0, batch=2, size=32)  # scaled: centres in [8, 24)
    assert small.shape == (2, 1, 32, 32) and (small.sum((1, 2, 3)) > 0).all()


def test_the_residual_is_normalised_by_its_95th_percentile_per_image():
    torch.manual_seed(0)
    x, y = torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 8)
    y[1] *= 10  # a different scale: its own percentile
    seen = []

    def clahe(a):
        seen.append(a.shape)
        return a * 2  # any per-image transform: applied to both

    res = pm.normalised_residual(x, y, clahe).numpy()
    assert seen == [(8, 8)] * 4
    for b in range(2):
        r = np.abs(2 * y[b, 0].numpy() - 2 * x[b, 0].numpy())
        expected = np.minimum(r / (np.quantile(r, 0.95) + 1e-8), 1)
        assert np.allclose(res[b, 0], expected, atol=1e-6)
        assert (res[b] == 1).sum() == 4  # above the percentile (index 59.85 of 64 sorted): 4 pixels


def test_binarise_at_a_threshold_and_at_each_images_95th_percentile():
    ramp = torch.arange(100, dtype=torch.float32).view(1, 1, 10, 10) / 100
    maps = torch.cat([ramp, 10 * ramp])
    fixed = pm.binarise(maps, 0.505)
    assert fixed[0].sum() == 49 and fixed[1].sum() == 94  # > 0.505: 0.51 .. 0.99, and 0.6 .. 9.9
    own = pm.binarise(maps, None)  # 95th percentiles 0.9405 and 9.405: the top 5 values of each
    assert own[0].sum() == 5 and own[1].sum() == 5
    assert _pixels(own[1, 0]) == {(9, c) for c in range(5, 10)}


def test_smoothing_dilates_by_one_pixel_and_keeps_isolated_pixels():
    w = np.exp(-(np.arange(-5, 6) ** 2) / (2 * 1.2**2))  # scipy's kernel: radius int(4 sigma + 0.5) = 5
    w /= w.sum()
    assert w[5] ** 2 > 0.1 > w[5] * w[6]  # a lone pixel keeps itself, its neighbours stay out
    m = torch.zeros(2, 1, 21, 21)
    m[0, 0, 10, 10] = 1
    m[1, 0, 5:16, 5:16] = 1
    out = pm.smooth(m)
    assert _pixels(out[0, 0]) == {(10, 10)}
    assert out[1].sum() == 13 * 13 and out[1, 0, 4:17, 4:17].min() == 1  # 11 x 11 -> 13 x 13, corners too
    edge = w[6:].sum()  # one pixel out of a wide edge: the kernel's far side beyond it
    assert edge > 0.1 > w[7:].sum()


def test_smoothing_across_the_batch_is_the_references_bleed():
    m = torch.zeros(3, 1, 21, 21)
    m[0, 0, 5:16, 5:16] = 1
    per_image, reference = pm.smooth(m), pm.smooth(m, across_batch=True)
    assert per_image[1:].sum() == 0
    # images 1 and 2 get masks, and image 0's own dilation weakens (part of its blur goes to image 1):
    # 13 x 13 less its 4 corners
    assert reference.sum((1, 2, 3)).tolist() == [165, 149, 77] and (reference[0] <= per_image[0]).all()
    one = m[:1]
    assert torch.equal(pm.smooth(one), pm.smooth(one, across_batch=True))  # one image: the same


def test_anomaly_mask_from_a_crafted_residual_and_saliency():
    x = torch.zeros(2, 1, 21, 21)
    y = torch.zeros(2, 1, 21, 21)
    y[:, 0, 5:16, 5:16] = 1  # the reconstruction differs on an 11 x 11 square
    y[1, 0, 0, 0] = 0.5  # a weaker difference in the corner of image 1
    saliency = torch.ones(2, 1, 21, 21)
    saliency[1, 0, 5:16, 5:16] = 0.05  # image 1: the square is not salient
    mask, amap = pm.anomaly_mask(x, y, lambda a: a, saliency, threshold=0.1)
    assert np.isclose(amap[0, 0, 10, 10].item(), 1) and np.isclose(amap[1, 0, 10, 10].item(), 0.05)
    assert mask[0].sum() == 13 * 13 and _pixels(mask[1, 0]) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    seen = []

    def sal(a, b):
        seen.append((a is y, b is x))
        return saliency

    mask2, _ = pm.anomaly_mask(x, y, lambda a: a, sal, threshold=0.1)
    assert seen == [(True, True)] and torch.equal(mask, mask2)  # saliency(y, x), as the reference's order


def test_masked_input_composite_and_union():
    x = torch.tensor([[[[0.2, 0.4], [0.6, 0.8]]]])
    y = torch.full_like(x, 0.5)
    m = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    assert torch.allclose(pm.masked_input(x, m), torch.tensor([[[[1.0, 0.4], [0.6, 1.0]]]]))
    assert torch.allclose(pm.composite(x, y, m), torch.tensor([[[[0.5, 0.4], [0.6, 0.5]]]]))
    assert torch.equal(pm.union(m, torch.ones_like(m)), torch.ones_like(m))

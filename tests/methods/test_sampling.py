"""PatchSampler: validity, positions, exact count, slice choice, uniformity, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from patch2loc.errors import InputError
from patch2loc.methods.patch2loc.sampling import PatchSampler, brain_counts

S, H, W, D, P = 3, 20, 16, 6, 4


def _unique_volumes():
    """Every voxel of every subject holds a distinct positive value: any brain pixel of a patch
    tells exactly where (subject, row, col, slice) the patch came from."""
    images = (np.arange(S * H * W * D, dtype=np.float32) + 1).reshape(S, H, W, D)
    masks = np.zeros(images.shape, bool)
    yy, xx = np.mgrid[:H, :W]
    disc = (yy - 9.5) ** 2 / 7**2 + (xx - 7.5) ** 2 / 6**2 <= 1
    masks[:, :, :, 1:5] = disc[None, :, :, None]  # slices 0 and 5 hold no brain
    return images, masks


def _reference_patch(vol: np.ndarray, r: int, c: int) -> np.ndarray:
    """Zero-padded window, rows r - P//2 .. r - P//2 + P - 1, by explicit loops."""
    out = np.zeros((P, P), vol.dtype)
    for i in range(P):
        for j in range(P):
            rr, cc = r - P // 2 + i, c - P // 2 + j
            if 0 <= rr < vol.shape[0] and 0 <= cc < vol.shape[1]:
                out[i, j] = vol[rr, cc]
    return out


def _locate(images: np.ndarray, value: float):
    s, r, c, z = np.argwhere(images == value)[0]
    return int(s), int(r), int(c), int(z)


def test_brain_counts_match_brute_force():
    rng = np.random.default_rng(0)
    m = rng.random((2, 9, 7)) < 0.4
    got = brain_counts(torch.from_numpy(m), 5).numpy()
    pad = np.pad(m, ((0, 0), (2, 2), (2, 2)))
    for b in range(2):
        for r in range(9):
            for c in range(7):
                assert got[b, r, c] == pad[b, r : r + 5, c : c + 5].sum()


def test_patches_targets_and_validity_against_reference():
    images, masks = _unique_volumes()
    sampler = PatchSampler(images, masks, P, 0.2)
    patches, target, slice_pos = sampler.sample(200, torch.Generator().manual_seed(1))
    assert patches.shape == (200, 1, P, P) and target.shape == (200, 2) and slice_pos.shape == (200,)
    brain_images = images * masks
    slice_of_subject = {}
    for k in range(200):
        # Any brain pixel of the patch says where the patch lies (values are unique).
        i, j = np.argwhere(patches[k, 0].numpy() > 0)[0]
        s, rr, cc, z = _locate(images, patches[k, 0, i, j].item())
        r, c = rr - i + P // 2, cc - j + P // 2
        assert target[k].tolist() == pytest.approx([100 * r / H, 100 * c / W])
        assert slice_pos[k].item() == pytest.approx(100 * z / D)
        np.testing.assert_array_equal(patches[k, 0].numpy(), _reference_patch(brain_images[s, :, :, z], r, c))
        brain = _reference_patch(masks[s, :, :, z].astype(np.float32), r, c).sum()
        assert brain >= 0.2 * P * P
        assert slice_of_subject.setdefault(s, z) == z  # one slice per subject per step
        assert 1 <= z <= 4  # slices without a valid centre are never chosen


def test_exact_count_and_threshold_is_inclusive():
    # One subject, one slice; a 5x5 patch needs >= 5 brain pixels (20%).
    images = np.ones((1, 9, 9, 1), np.float32)
    masks = np.zeros(images.shape, bool)
    masks[0, 4, 2:7, 0] = True  # a horizontal line of 5 brain pixels
    sampler = PatchSampler(images, masks, 5, 0.2)
    valid = sampler.valid[0, 0].numpy()
    expected = np.zeros((9, 9), bool)
    expected[2:7, 4] = True  # only windows centred on column 4 (rows 2..6) see all 5 pixels
    np.testing.assert_array_equal(valid, expected)
    for n in (1, 7, 333):
        patches, target, _ = sampler.sample(n, torch.Generator().manual_seed(n))
        assert len(patches) == n
        assert torch.allclose(target[:, 1], torch.tensor(100 * 4 / 9))


def test_uniform_over_valid_centres():
    images, masks = _unique_volumes()
    images, masks = images[:1, :, :, 2:3], masks[:1, :, :, 2:3]
    sampler = PatchSampler(images, masks, P, 0.2)
    n_valid = int(sampler.valid.sum())
    n = 200 * n_valid
    _, target, _ = sampler.sample(n, torch.Generator().manual_seed(3))
    rows = torch.round(target[:, 0] * H / 100).long()
    cols = torch.round(target[:, 1] * W / 100).long()
    counts = torch.bincount(rows * W + cols, minlength=H * W).reshape(H, W)
    assert torch.equal(counts > 0, sampler.valid[0, 0])  # every valid centre drawn, no other
    hits = counts[sampler.valid[0, 0]].float()
    # 200 expected per centre: binomial sd ~14; 6 sd bounds hold for every one of ~150 centres.
    assert hits.min() > 200 - 6 * 14 and hits.max() < 200 + 6 * 14
    # Chi-square against the uniform distribution, generous bound (df ~ n_valid).
    chi2 = ((hits - 200) ** 2 / 200).sum().item()
    assert chi2 < n_valid + 6 * np.sqrt(2 * n_valid)


def test_deterministic_for_a_seed():
    images, masks = _unique_volumes()
    sampler = PatchSampler(torch.from_numpy(images), torch.from_numpy(masks), P)
    a = sampler.sample(50, torch.Generator().manual_seed(7))
    b = sampler.sample(50, torch.Generator().manual_seed(7))
    c = sampler.sample(50, torch.Generator().manual_seed(8))
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    assert not torch.equal(a[1], c[1])


def test_images_are_multiplied_by_masks():
    images = np.full((1, 8, 8, 2), 5.0, np.float32)
    masks = np.zeros(images.shape, bool)
    masks[0, 2:6, 2:6, :] = True
    sampler = PatchSampler(images, masks, 4, 0.2)
    patches, _, _ = sampler.sample(100, torch.Generator().manual_seed(0))
    assert set(torch.unique(patches).tolist()) <= {0.0, 5.0}
    assert (patches == 5.0).flatten(1).sum(1).min() >= 0.2 * 16
    assert sampler.padded.sum().item() == 5.0 * masks.sum()


def test_bad_input_raises_input_error():
    images = np.ones((2, 8, 8, 2), np.float32)
    masks = np.ones(images.shape, bool)
    masks[1] = False
    with pytest.raises(InputError, match=r"subject\(s\) \[1\]"):
        PatchSampler(images, masks, 4)
    with pytest.raises(InputError, match="same shape"):
        PatchSampler(images, masks[:, :, :, :1], 4)

"""Nyul landmarks + percentile scaling on tiny synthetic volumes."""

from __future__ import annotations

import numpy as np
import pytest

from patch2loc.files.io import load_volume, save_volume
from patch2loc.errors import InputError
from patch2loc.preprocessing.normalize import fit_landmarks, load_landmarks, normalize_scan, nyul_transform

SHAPE = (20, 22, 18)


def _brain(rng: np.random.Generator, gain: float, offset: float, gamma: float):
    """Two-class brain (ellipsoid, inner core brighter) with noise, then a scanner-like mapping."""
    idx = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in SHAPE], indexing="ij"), -1)
    r = np.sqrt((idx**2).sum(-1))
    mask = r < 0.9
    base = np.where(r < 0.5, 1.0, 0.6) + 0.05 * rng.standard_normal(SHAPE)
    image = (gain * np.clip(base, 0.05, None) ** gamma + offset) * mask
    return image.astype(np.float32), mask


def _write(tmp_path, name, image, mask):
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    save_volume(image, tmp_path / f"{name}.nii.gz", affine=affine)
    save_volume(mask.astype(np.uint8), tmp_path / f"{name}_mask.nii.gz", affine=affine)
    return tmp_path / f"{name}.nii.gz", tmp_path / f"{name}_mask.nii.gz"


def test_landmarks_map_each_image_onto_standard_scale(tmp_path):
    rng = np.random.default_rng(0)
    scans = [
        _write(tmp_path, f"s{i}", *_brain(rng, g, o, gm))
        for i, (g, o, gm) in enumerate([(100, 5, 1.0), (900, 40, 1.3), (30, 0, 0.8)])
    ]
    table = fit_landmarks([s[0] for s in scans], [s[1] for s in scans], tmp_path / "T1.npy")
    assert table.shape == (2, 11) and np.allclose(table[1], [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99])
    # Independent computation of the standard scale: mean of the landmarks linearly rescaled
    # so that the 1st/99th percentiles go to 1/100.
    expected = []
    for image_path, mask_path in scans:
        v = load_volume(image_path).data[load_volume(mask_path).data > 0]
        p = np.percentile(v, table[1])
        expected.append(1 + 99 * (p - p[0]) / (p[-1] - p[0]))
    assert np.allclose(table[0], np.mean(expected, 0), rtol=1e-5)

    nyul = load_landmarks(tmp_path / "T1.npy")
    for image_path, mask_path in scans:
        image, mask = load_volume(image_path).data, load_volume(mask_path).data > 0
        mapped = nyul_transform(image, mask, nyul)
        assert np.allclose(np.percentile(mapped[mask], table[1]), table[0], rtol=0.02, atol=0.5)


def test_normalize_scan_scales_and_is_invariant_to_linear_rescaling(tmp_path):
    rng = np.random.default_rng(1)
    image, mask = _brain(rng, 100, 0, 1.0)
    a = _write(tmp_path, "a", image, mask)
    b = _write(tmp_path, "b", (7.5 * image + 20) * mask, mask)  # same scan, other scanner gain
    fit_landmarks([a[0]], [a[1]], tmp_path / "lm.npy")
    out_a = load_volume(normalize_scan(*a, tmp_path / "lm.npy", tmp_path / "na.nii.gz")).data
    out_b = load_volume(normalize_scan(*b, tmp_path / "lm.npy", tmp_path / "nb.nii.gz")).data
    assert np.percentile(out_a[mask], 98.0) == pytest.approx(1.0, abs=1e-5)
    assert np.all(out_a[~mask] == 0)
    assert np.allclose(out_a, out_b, atol=1e-4)
    out_c = load_volume(normalize_scan(*a, tmp_path / "lm.npy", tmp_path / "nc.nii.gz", percentile=50.0)).data
    assert np.median(out_c[mask]) == pytest.approx(1.0, abs=1e-5)


def test_bad_inputs_raise_and_write_nothing(tmp_path):
    rng = np.random.default_rng(2)
    image, mask = _brain(rng, 100, 0, 1.0)
    a = _write(tmp_path, "a", image, mask)
    small = _write(tmp_path, "small", image[:-2], mask[:-2])
    with pytest.raises(InputError, match="brain mask shape"):
        fit_landmarks([a[0]], [small[1]], tmp_path / "lm.npy")
    assert not (tmp_path / "lm.npy").exists()
    with pytest.raises(InputError, match="landmarks not found"):
        normalize_scan(*a, tmp_path / "lm.npy", tmp_path / "n.nii.gz")
    (tmp_path / "bad.npy").write_bytes(b"not numpy")
    with pytest.raises(InputError, match="re-fit"):
        normalize_scan(*a, tmp_path / "bad.npy", tmp_path / "n.nii.gz")
    assert not (tmp_path / "n.nii.gz").exists()
    assert not list(tmp_path.glob(".*"))  # no temporary leftovers


# Landmarks of three fixed brains, computed once with intensity-normalization 3.0.1 (Python 3.11)
# and 4.0.0 (Python 3.12.1 and 3.13.0): identical to 6 decimals across versions (2026-11-22).
def _fixed_population(tmp_path):
    rng = np.random.default_rng(2026)
    pairs = [
        _write(tmp_path, f"b{i}", *_brain(rng, g, o, gm))
        for i, (g, o, gm) in enumerate([(800, 50, 1.0), (1500, 0, 1.2), (300, 20, 0.8)])
    ]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_landmarks_follow_the_nyul_definition_on_any_library_version(tmp_path):
    """Standard scale = mean over images of the landmark percentiles (1, 10..90, 99) mapped
    linearly from [p1, p99] onto [1, 100], whichever intensity-normalization is installed."""
    images, masks = _fixed_population(tmp_path)
    table = fit_landmarks(images, masks, tmp_path / "lm.npy")
    percentiles = np.array([1.0, *range(10, 91, 10), 99.0])
    expected = np.zeros(len(percentiles))
    for image, mask in zip(images, masks):
        values = load_volume(image).data[load_volume(mask).data > 0]
        marks = np.percentile(values, percentiles)
        expected += 1.0 + 99.0 * (marks - marks[0]) / (marks[-1] - marks[0])
    expected /= len(images)
    np.testing.assert_allclose(table[1], percentiles)
    np.testing.assert_allclose(table[0], expected, rtol=1e-6)
    # and the transform puts each image's landmarks onto that scale
    nyul = load_landmarks(tmp_path / "lm.npy")
    image, mask = load_volume(images[1]).data, load_volume(masks[1]).data > 0
    mapped = nyul_transform(image, mask, nyul)
    np.testing.assert_allclose(np.percentile(mapped[mask], percentiles), table[0], rtol=1e-4, atol=1e-3)


def test_crop_pad_comes_last(tmp_path):
    """With target_shape the scan is normalised on the whole brain and cropped afterwards: the
    result is the crop of the uncropped normalisation, not a normalisation of the crop."""
    from patch2loc.preprocessing.pipeline import crop_or_pad

    images, masks = _fixed_population(tmp_path)
    fit_landmarks(images, masks, tmp_path / "lm.npy")
    full = normalize_scan(images[0], masks[0], tmp_path / "lm.npy", tmp_path / "full.nii.gz")
    target = (20, 22, 10)  # cuts 8 of the 18 axial slices, brain included
    last = normalize_scan(images[0], masks[0], tmp_path / "lm.npy", tmp_path / "last.nii.gz", target_shape=target)
    want, offset = crop_or_pad(load_volume(full).data, target)
    got = load_volume(last)
    np.testing.assert_array_equal(got.data, want)
    np.testing.assert_allclose(
        got.affine[:3, 3], load_volume(full).affine[:3, :3] @ offset + load_volume(full).affine[:3, 3]
    )
    # cropping first would change the values: the percentile of a partial brain differs
    crop_img, _ = crop_or_pad(load_volume(images[0]).data, target)
    crop_msk, _ = crop_or_pad(load_volume(masks[0]).data, target)
    first = _write(tmp_path, "cropped", crop_img, crop_msk > 0)
    early = load_volume(normalize_scan(*first, tmp_path / "lm.npy", tmp_path / "first.nii.gz")).data
    assert not np.allclose(early, want, rtol=1e-3)

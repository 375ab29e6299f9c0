"""Extreme intensities and heatmaps that are not finite.

Ten voxels at 1e30 gave NaN heatmaps and a lesion volume four times too large, with exit 0. Now
extreme outliers (beyond 10 x the 99.9th percentile of |intensity|) are clipped, with one warning
line, in raw and in preprocessed scans alike, and a heatmap with a non-finite voxel inside the
brain is never written (exit 2). Also: an int16 scan that wrapped around and an all-ones brain
mask are accepted with one warning line each, and a normal run prints nothing.
"""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import torch
from tests.helpers.hostile import cli_in_child, run_with_model
from tests.helpers.safety import SHAPE, make_case, predict_argv, refused

from patch2loc import cli
from patch2loc.checks.intensities import OUTLIER_FACTOR, clip_outliers
from patch2loc.methods.patch2loc.model import Patch2LocNet


def _hot(data: np.ndarray, brain: np.ndarray, n: int = 10, value: float = 1e30) -> np.ndarray:
    hot = data.astype(np.float64 if value > 1e38 else np.float32).copy()
    inside = np.argwhere(brain)
    pick = inside[np.random.default_rng(1).choice(len(inside), n, replace=False)]
    hot[tuple(pick.T)] = value
    return hot


def test_clipping_leaves_ordinary_scans_untouched_and_bounds_outliers():
    rng = np.random.default_rng(0)
    scan = rng.gamma(4.0, 100.0, (40, 40, 20)).astype(np.float32)  # a long bright tail, as in MRI
    assert clip_outliers(scan, "scan.nii.gz") is scan  # untouched: the same array, no warning
    hot = _hot(scan, scan > 0, n=10)
    with pytest.warns(UserWarning, match="10 voxel\\(s\\) of the image reach \\|1e\\+30\\|"):
        clipped = clip_outliers(hot.copy(), "scan.nii.gz")
    limit = OUTLIER_FACTOR * np.percentile(np.abs(hot[hot != 0]), 99.9)
    assert np.isclose(clipped.max(), limit) and np.isfinite(clipped).all()
    normal = hot < 1e29
    np.testing.assert_array_equal(clipped[normal], hot[normal])  # nothing else changed
    # the percentiles the chain uses (Nyul 1-99, the 98th for scaling) do not move
    np.testing.assert_allclose(np.percentile(clipped, [1, 50, 98, 99]), np.percentile(hot, [1, 50, 98, 99]))
    with pytest.warns(UserWarning, match="clipped"):  # float64 beyond float32: clipped before the cast
        assert np.isfinite(
            clip_outliers(_hot(scan, scan > 0, value=1e300).astype(np.float64), "x").astype(np.float32)
        ).all()


def _large_case(folder, hot: int = 0) -> dict:
    """make_case on a 48 x 48 x 12 grid (10 voxels are then 0.04 % of the scan, as a few hot
    voxels are in a real one; on make_case's 1,024 voxels they would be 1 %: no outliers)."""
    c = make_case(folder)
    shape = (48, 48, 12)
    rng = np.random.default_rng(0)
    image = rng.normal(1.0, 0.3, shape).astype(np.float32)
    brain = np.zeros(shape, bool)
    brain[8:40, 10:38, 2:10] = True
    if hot:
        image = _hot(image, brain, n=hot)
    nib.save(nib.Nifti1Image(image, c["affine"]), c["image"])
    nib.save(nib.Nifti1Image(brain.astype(np.uint8), c["affine"]), c["mask"])
    ckpt = torch.load(c["ckpt"], weights_only=True)
    ckpt["config"]["volume_shape"] = list(shape)
    torch.save(ckpt, c["ckpt"])
    return {**c, "brain": brain}


def test_outliers_in_a_preprocessed_scan_give_a_finite_heatmap(tmp_path):
    c = _large_case(tmp_path / "in", hot=10)
    out = tmp_path / "out" / "heat.nii.gz"
    with pytest.warns(UserWarning, match="image.nii.gz: 10 voxel\\(s\\) of the image .* clipped"):
        assert cli.main(predict_argv(c, out, "--threshold", "5", "--median-size", "1")) == 0
    heat = np.asarray(nib.load(out).dataobj)
    assert np.isfinite(heat).all() and np.any(heat[c["brain"]] != 0)


def test_without_clipping_the_non_finite_heatmap_is_an_error_not_exit_0(tmp_path, capsys, monkeypatch):
    """The second line of defence: with clipping switched off the same scan overflows the network
    at the hot voxels; the heatmap is checked before it is committed, so nothing is written. (The
    7^3 median filter would hide isolated overflows: --median-size 1 shows them.)"""
    c = _large_case(tmp_path / "in", hot=10)
    monkeypatch.setattr("patch2loc.checks.intensities.OUTLIER_FACTOR", float("inf"))
    refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", "--threshold", "5", "--median-size", "1"),
        "non-finite value(s) inside the brain",
        tmp_path,
        capsys,
    )


def test_a_checkpoint_that_overflows_gives_exit_2_and_no_heatmap(c, tmp_path, capsys):
    torch.manual_seed(0)
    weights = Patch2LocNet(2).eval().state_dict()
    weights["logvar_head.12.bias"] = torch.full((2,), 3e38)  # finite weights, infinite log-variance
    torch.save({**torch.load(c["ckpt"], weights_only=True), "model": weights}, tmp_path / "in" / "overflow.pt")
    line = refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=tmp_path / "in" / "overflow.pt"),
        "non-finite value(s) inside the brain",
        tmp_path,
        capsys,
    )
    assert str(c["image"]) in line and "nothing was written" in line


# ---------------------------------------------------------------- raw scans (--from-run)


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return run_with_model(tmp_path_factory.mktemp("hot_raw"))


def _raw_argv(base, run, image, mask, out):
    return predict_argv(None, out, "--threshold", "14", image=image, mask=mask, ckpt=base / "m.pt", from_run=run)


@pytest.mark.slow
def test_outliers_in_a_raw_scan_give_finite_outputs_and_the_same_lesion_volume(raw, tmp_path):
    base, run, scan = raw
    img = nib.load(scan.image)
    brain = np.asarray(nib.load(scan.mask).dataobj) > 0
    nib.save(nib.Nifti1Image(_hot(np.asarray(img.dataobj), brain), img.affine), tmp_path / "hot.nii.gz")
    assert cli.main(_raw_argv(base, run, scan.image, scan.mask, tmp_path / "clean" / "s.nii.gz")) == 0
    with pytest.warns(UserWarning, match="10 voxel\\(s\\) of the image .* clipped"):
        assert cli.main(_raw_argv(base, run, tmp_path / "hot.nii.gz", scan.mask, tmp_path / "hot" / "s.nii.gz")) == 0
    for name in ("s.nii.gz", "s_native.nii.gz"):
        assert np.isfinite(np.asarray(nib.load(tmp_path / "hot" / name).dataobj)).all(), name
    clean, hot = (
        json.loads((tmp_path / k / "s_summary.json").read_text())["lesion_volume_ml"] for k in ("clean", "hot")
    )
    assert clean > 0 and abs(hot - clean) <= 0.15 * clean, (clean, hot)  # was 24.8 mL instead of 6.7


# ---------------------------------------------------------------- LOW: one warning line, no noise


def test_int16_scan_that_wrapped_around_is_reported(c, tmp_path):
    from patch2loc.preprocessing.imaging import read_image

    img = nib.load(c["image"])
    brain = np.asarray(nib.load(c["mask"]).dataobj) > 0
    values = (np.asarray(img.dataobj) * 20000).astype(np.int64)  # up to ~40000: beyond int16
    values[brain.nonzero()[0][:3], brain.nonzero()[1][:3], 0] = 32000
    wrapped = ((values + 32768) % 65536 - 32768).astype(np.int16)  # what a careless export does
    assert wrapped.min() <= -30000
    nib.save(nib.Nifti1Image(wrapped, img.affine), tmp_path / "in" / "wrapped.nii.gz")
    # --force: x20000 is not the scale the model was trained on (refused without it: predict/test_scale_hostile.py)
    with pytest.warns(UserWarning, match="int16 .* wrapped around"):
        assert (
            cli.main(
                predict_argv(c, tmp_path / "out" / "h.nii.gz", "--force", image=tmp_path / "in" / "wrapped.nii.gz")
            )
            == 0
        )
    nib.save(nib.Nifti1Image(wrapped, img.affine), tmp_path / "in" / "wrapped_raw.nii.gz")  # (each file warns once)
    with pytest.warns(UserWarning, match="wrapped around"):  # the raw chain's reader too
        read_image(tmp_path / "in" / "wrapped_raw.nii.gz")


def test_a_scan_read_twice_warns_once():
    import warnings

    from patch2loc.checks.intensities import warn_full_mask

    def read(path):  # as load_volume calls it: the warning is attributed to read's caller
        warn_full_mask(np.ones((4, 4, 2), bool), path)

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")  # whatever the filters say
        read("twice_read_mask.nii.gz")  # the preflight's read
        read("twice_read_mask.nii.gz")  # the chain's, from another line
        read("another_mask.nii.gz")
    assert [str(w.message).split(":")[0] for w in seen] == ["twice_read_mask.nii.gz", "another_mask.nii.gz"]
    assert cli._one_line_warning(seen[0].message, seen[0].category, "f.py", 1).count("\n") == 1


@pytest.mark.slow  # a child process: what a user sees on stderr
def test_warnings_are_one_line_and_a_normal_run_prints_nothing(c, tmp_path):
    rc, err, _ = cli_in_child(predict_argv(c, tmp_path / "out" / "a.nii.gz"))
    assert rc == 0 and err == [], err
    weights = torch.load(c["ckpt"], weights_only=True)
    torch.save(weights, tmp_path / "in" / "p4.pt", pickle_protocol=4)  # torch warns about the protocol, then refuses
    rc, err, _ = cli_in_child(predict_argv(c, tmp_path / "out" / "a4.nii.gz", ckpt=tmp_path / "in" / "p4.pt"))
    assert rc == 2 and len(err) == 1 and "p4.pt: cannot be read" in err[0], err
    ones = np.ones(SHAPE, np.uint8)
    nib.save(nib.Nifti1Image(ones, c["affine"]), tmp_path / "in" / "ones.nii.gz")
    rc, err, _ = cli_in_child(predict_argv(c, tmp_path / "out" / "b.nii.gz", mask=tmp_path / "in" / "ones.nii.gz"))
    assert rc == 0 and len(err) == 1, err
    assert err[0].startswith("patch2loc: warning: ") and "ones.nii.gz: the brain mask covers every voxel" in err[0]

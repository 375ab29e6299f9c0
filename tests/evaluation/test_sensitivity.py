"""The sphere-painting sensitivity probe: painting, percentiles, and its command line."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch

from patch2loc.methods.patch2loc.model import Patch2LocNet
from patch2loc.evaluation.report.sensitivity import intensity_at, main, paint_sphere, pick_centres, sphere_sensitivity
from tests.helpers.checkpoints import as_written

SHAPE = (24, 24, 15)


def _brain():
    rng = np.random.default_rng(1)
    volume = rng.normal(1.0, 0.2, SHAPE).astype(np.float32)
    mask = np.zeros(SHAPE, bool)
    mask[2:22, 2:22, 1:14] = True
    return volume, mask


def test_paint_sphere_changes_only_the_ball_inside_the_brain():
    volume, mask = _brain()
    before = volume.copy()
    painted, ball = paint_sphere(volume, mask, (10, 10, 7), 1.0, 9.0)
    assert ball.sum() == 7  # the centre and its 6 face neighbours
    assert np.all(painted[ball] == 9.0) and np.array_equal(painted[~ball], volume[~ball])
    assert np.array_equal(volume, before)  # the input is not modified
    _, edge = paint_sphere(volume, mask, (2, 2, 1), 1.0, 9.0)
    assert edge.sum() == 4 and not (edge & ~mask).any()


def test_thresholding_sees_bright_spheres_and_not_background_level_ones():
    volume, mask = _brain()
    centres = pick_centres(mask, 3, seed=0)
    table = sphere_sensitivity({"Thresh": intensity_at}, volume, mask, centres, radii=[1.5], levels=[0.0, 3.0])
    low, high = table.set_index("level").percentile.loc[[0.0, 3.0]]
    assert abs(low - 0.30) < 0.05  # painted at the 30th intensity percentile
    assert high > 0.999
    assert table.voxels.iloc[0] == 19


def test_a_blind_scorer_is_reported_blind():
    volume, mask = _brain()
    by_position = lambda vol, centres: centres.sum(1).astype(np.float32)  # ignores the image  # noqa: E731
    table = sphere_sensitivity(
        {"blind": by_position}, volume, mask, pick_centres(mask, 4, seed=2), radii=[2.0], levels=[5.0]
    )
    assert table.score_change.iloc[0] == 0.0
    assert 0.2 < table.percentile.iloc[0] < 0.8  # deep centres: the middle of the position range


def test_pick_centres_refuses_a_mask_without_deep_voxels():
    with pytest.raises(ValueError, match="deep brain voxels"):
        pick_centres(np.ones((8, 8, 8), bool), 2, seed=0)


@pytest.fixture()
def files(tmp_path):
    volume, mask = _brain()
    for name, data in (("image", volume), ("mask", mask.astype(np.uint8))):
        nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / f"{name}.nii.gz")
    torch.manual_seed(0)
    ckpt = {"model": Patch2LocNet(2).eval().state_dict(), "patch_size": 2}
    torch.save(as_written(ckpt, grid=volume.shape), tmp_path / "model.pt")
    return tmp_path


def _args(d, out):
    return [
        "--checkpoint",
        str(d / "model.pt"),
        "--image",
        str(d / "image.nii.gz"),
        "--mask",
        str(d / "mask.nii.gz"),
        "--out",
        str(out),
        "--radii",
        "1.5",
        "--levels",
        "0.9",
        "--spheres",
        "2",
    ]


def test_command_writes_both_methods_and_never_overwrites(files, capsys):
    out = files / "sens.csv"
    assert main(_args(files, out)) == 0
    text = out.read_text()
    assert text.startswith("method,radius_vox,level,voxels,score_change,percentile")
    assert "Patch2Loc," in text and "Thresh," in text
    assert main(_args(files, out)) == 2  # exists: refused, left as it was
    assert out.read_text() == text
    assert "--out exists" in capsys.readouterr().err


def test_command_rejects_a_mask_too_small_and_writes_nothing(files, capsys):
    small = np.zeros(SHAPE, np.uint8)
    small[10:13, 10:13, 6:9] = 1
    nib.save(nib.Nifti1Image(small, np.eye(4)), files / "mask.nii.gz")
    out = files / "sens.csv"
    assert main(_args(files, out)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {files / 'mask.nii.gz'}:") and len(err.splitlines()) == 1
    assert not out.exists()

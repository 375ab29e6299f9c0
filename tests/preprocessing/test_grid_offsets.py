"""Masks a fraction of a voxel off their image's grid (MSLUB's brain masks: half a voxel) are moved
onto it with one warning line and recorded in QC; an offset of a voxel or more stays an error."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage
from tests.helpers.phantom import CFG, atlas, native_scan, random_affine  # noqa: F401 (atlas: fixture)

from patch2loc.data.layouts import RawScan
from patch2loc.scoring.metrics import auprc, best_dice
from patch2loc.errors import InputError
from patch2loc.preprocessing.grid import onto_image_grid, whole_voxel_shift
from patch2loc.preprocessing.pipeline import preprocess_scan
from patch2loc.preprocessing.qc import qc_table


def _offset(path, voxels) -> None:
    """Move a file's origin by `voxels` (in its own voxel axes), data unchanged: a header slip."""
    img = sitk.ReadImage(str(path))
    axes = np.asarray(img.GetDirection()).reshape(3, 3) * np.asarray(img.GetSpacing())
    img.SetOrigin((np.asarray(img.GetOrigin()) + axes @ np.asarray(voxels, float)).tolist())
    sitk.WriteImage(img, str(path))


def _block(origin=(0.0, 0.0, 0.0)) -> sitk.Image:
    array = np.zeros((6, 7, 8), np.uint8)  # [z, y, x]
    array[2:4, 3:5, 2:6] = 1
    img = sitk.GetImageFromArray(array)
    img.SetSpacing((0.8, 0.47, 0.47))
    img.SetDirection((-1, 0, 0, 0, -1, 0, 0, 0, 1))
    img.SetOrigin(origin)
    return img


def test_whole_voxel_shift_keeps_ties_in_place():
    assert whole_voxel_shift([0.5, -0.5, 0.5004, 0.7, -0.7, 0.3, -1.5]).tolist() == [0, 0, 0, 1, -1, 0, -1]


def test_sub_voxel_offset_is_moved_onto_the_image_grid(capsys):
    ref = _block()
    # x is the first voxel axis, along -x in world: +0.7 voxels = -0.56 mm in x
    moved, record = onto_image_grid(ref, _block((-0.56, 0.0, 0.0)), "t2.nii.gz", "mask.nii.gz", "brain mask")
    assert record["offset_voxels"] == pytest.approx([0.7, 0.0, 0.0]) and record["shift_voxels"] == [1, 0, 0]
    expected = np.roll(sitk.GetArrayFromImage(ref), 1, axis=2)  # array order [z, y, x]
    assert np.array_equal(sitk.GetArrayFromImage(moved), expected)
    assert moved.GetOrigin() == ref.GetOrigin()
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and "mask.nii.gz" in warning[0] and "[0.7, 0.0, 0.0] voxels" in warning[0]
    # Exactly half a voxel (MSLUB): the data stay where they are, on the image grid.
    half, record = onto_image_grid(ref, _block((-0.4, -0.235, 0.235)), "t2", "mask", "brain mask")
    assert record["shift_voxels"] == [0, 0, 0]
    assert np.array_equal(sitk.GetArrayFromImage(half), sitk.GetArrayFromImage(ref))
    same, record = onto_image_grid(ref, _block((0.001, 0.0, 0.0)), "t2", "mask", "brain mask")
    assert record is None and same.GetOrigin() == (0.001, 0.0, 0.0)


@pytest.mark.parametrize("other", ["two_voxels", "spacing"])
def test_larger_differences_stay_an_error(other):
    bad = _block((-1.6, 0.0, 0.0)) if other == "two_voxels" else _block()
    if other == "spacing":
        bad.SetSpacing((0.9, 0.47, 0.47))
    with pytest.raises(InputError) as err:
        onto_image_grid(_block(), bad, "t2.nii.gz", "mask.nii.gz", "brain mask")
    message = str(err.value)
    assert "\n" not in message and message.startswith("mask.nii.gz: brain mask grid")
    assert ("[2.0, 0.0, 0.0] voxels away" in message) == (other == "two_voxels")


@pytest.fixture(scope="module")
def unshifted(tmp_path_factory, atlas):  # noqa: F811 (pytest fixture from test_preprocess)
    tmp = tmp_path_factory.mktemp("unshifted")
    paths = native_scan(tmp, random_affine(np.random.default_rng(7)), lesion=True)
    preprocess_scan(RawScan("MSLUB", "T2", "p", paths[0], paths[2], paths[1]), *atlas, tmp / "out", CFG)
    return paths, _metrics(tmp / "out")


def _metrics(out):
    image, mask, seg = (np.asarray(nib.load(out / f"{k}.nii.gz").dataobj) for k in ("image", "mask", "seg"))
    return {
        "mask": mask > 0,
        "seg": seg > 0,
        "auprc": auprc(image, seg > 0, mask > 0),
        "dice": best_dice(image, seg > 0, mask > 0)[0],
    }


def _within_one_boundary_voxel(a: np.ndarray, b: np.ndarray) -> bool:
    """Every voxel where a and b differ touches b's boundary (26-neighbourhood)."""
    cube = np.ones((3, 3, 3), bool)
    band = ndimage.binary_dilation(b, cube) & ~ndimage.binary_erosion(b, cube)
    return bool(np.all(band[a ^ b]))


@pytest.mark.parametrize("voxels", [(0.5, 0.5, -0.5), (0.7, 0.0, 0.0)])
def test_shifted_masks_give_those_of_unshifted_ones(tmp_path, atlas, unshifted, voxels, capfd):  # noqa: F811
    (image, mask, seg), reference = unshifted
    for src in (mask, seg):  # a copy of the same masks, its headers a fraction of a voxel off
        (tmp_path / src.name).write_bytes(src.read_bytes())
        _offset(tmp_path / src.name, voxels)
    scan = RawScan("MSLUB", "T2", "p", image, tmp_path / seg.name, tmp_path / mask.name)
    qc = preprocess_scan(scan, *atlas, tmp_path / "out", CFG)
    warnings = [line for line in capfd.readouterr().err.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 2 and {mask.name, seg.name} == {
        w.split(":")[1].strip().rsplit("/", 1)[-1] for w in warnings
    }
    assert [r["kind"] for r in qc["grid_resampled"]] == ["lesion mask", "brain mask"]
    assert qc["grid_resampled"][0]["offset_voxels"] == pytest.approx(voxels, abs=1e-3)
    shifted = _metrics(tmp_path / "out")
    for key in ("mask", "seg"):
        assert _within_one_boundary_voxel(shifted[key], reference[key]), key
    if max(abs(v) for v in voxels) == 0.5:  # ties keep the data in place: the very same metrics
        assert shifted["auprc"] == reference["auprc"] and shifted["dice"] == reference["dice"]
    # (0.7 voxels: the masks really sit one native voxel further, which moves a 4 mL lesion's metrics)
    row = qc_table([tmp_path / "out" / "qc.json"]).iloc[0]
    assert row["grid_resampled"].startswith(f"{seg.name} offset") and mask.name in row["grid_resampled"]
    assert json.loads((tmp_path / "out" / "qc.json").read_text())["grid_resampled"] == qc["grid_resampled"]

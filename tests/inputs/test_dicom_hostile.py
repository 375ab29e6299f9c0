"""A DICOM series with a truncated, malformed, missing or repeated slice is
refused in one line (GDCM dropped such a slice silently and ITK stacked the rest at their average
spacing: 106 slices of 2.019 mm instead of 107 of 2.0 mm). Refused before any preprocessing;
nothing is left behind."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import SimpleITK as sitk
from tests.helpers.hostile import fake_run, write_dicom_series
from tests.helpers.safety import make_case, predict_argv, refused

from patch2loc.errors import InputError
from patch2loc.predict.dicom import dicom_to_nifti

N_SLICES = 12


def _volume() -> sitk.Image:
    data = (np.random.default_rng(0).random((N_SLICES, 20, 24)) * 1000).astype(np.int16)  # [z, y, x]
    img = sitk.GetImageFromArray(data)
    img.SetSpacing((1.0, 1.0, 2.0))
    img.SetOrigin((-12.0, -10.0, -11.0))
    return img


@pytest.fixture()
def series(tmp_path):
    return tmp_path / "in" / "series", write_dicom_series(_volume(), tmp_path / "in" / "series")


def _argv(tmp_path, run, folder, ckpt):
    return predict_argv(
        None, tmp_path / "out" / "h.nii.gz", "--skull-strip", "none", image=folder, mask=False, ckpt=ckpt, from_run=run
    )


def test_a_complete_series_is_read_whole(series, tmp_path):
    folder, _ = series
    out = dicom_to_nifti(folder, tmp_path / "whole.nii.gz")
    img = sitk.ReadImage(str(out))
    assert img.GetSize() == (24, 20, N_SLICES) and np.allclose(img.GetSpacing(), (1.0, 1.0, 2.0))


@pytest.mark.parametrize(
    "damage,needle",
    [
        ("truncate", "005.dcm: this file in the DICOM folder is not a readable slice of its series"),
        ("garble", "005.dcm: this file in the DICOM folder is not a readable slice of its series"),
        ("foreign", "notes.txt: this file in the DICOM folder is not a readable slice"),
        ("delete", "the DICOM slices are not evenly spaced (gaps from 2 to 4 mm): a slice is missing or repeated"),
    ],
)
def test_an_incomplete_series_is_refused_before_preprocessing(series, tmp_path, capsys, damage, needle):
    folder, files = series
    c = make_case(tmp_path / "in" / "model")
    run = fake_run(tmp_path / "wf")  # its atlas is no image: preprocessing would fail differently
    if damage == "truncate":
        files[5].write_bytes(files[5].read_bytes()[:-10])
    elif damage == "garble":
        files[5].write_bytes(b"\0" * 128 + b"DICM" + b"\xff" * 200)
    elif damage == "foreign":
        (folder / "notes.txt").write_text("scanned on Tuesday")
    else:
        files[5].unlink()
    line = refused(_argv(tmp_path, run, folder, c["ckpt"]), needle, tmp_path, capsys)
    assert "Re-export the complete series" in line


def test_a_repeated_slice_and_a_wrong_slice_count_are_refused(tmp_path):
    folder = tmp_path / "repeated"
    files = write_dicom_series(_volume(), folder)
    img = sitk.ReadImage(str(files[4]))
    img.SetMetaData("0020|0013", "99")  # the same position under another instance number
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    writer.SetFileName(str(folder / "004b.dcm"))
    writer.Execute(img)
    with pytest.raises(InputError, match="not evenly spaced|not a readable slice"):
        dicom_to_nifti(folder, tmp_path / "r.nii.gz")
    counted = tmp_path / "counted"
    write_dicom_series(_volume(), counted, {"0020|1002": str(N_SLICES + 1)})
    with pytest.raises(InputError, match=f"has {N_SLICES} slices but records ImagesInAcquisition = {N_SLICES + 1}"):
        dicom_to_nifti(counted, tmp_path / "c.nii.gz")
    assert not (tmp_path / "r.nii.gz").exists() and not (tmp_path / "c.nii.gz").exists()


def test_series_size_is_bounded_before_its_voxels_are_read(series, tmp_path, monkeypatch):
    folder, _ = series
    monkeypatch.setenv("PATCH2LOC_MAX_IMAGE_MB", "0.01")  # 24 x 20 x 12 float32 = 23 kB
    with pytest.raises(InputError, match="the DICOM series claims 24 x 20 x 12 voxels .*PATCH2LOC_MAX_IMAGE_MB"):
        dicom_to_nifti(folder, tmp_path / "x.nii.gz")
    shutil.rmtree(folder)

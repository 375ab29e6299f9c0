"""A 2D, 4D or RGB scan is not one 3D volume of
numbers; refused by its header, with --from-run or not (exit 2, one stderr line naming the file, nothing written)."""

from __future__ import annotations


import nibabel as nib
import numpy as np
import pytest

from tests.helpers.fake_chain import faked_case, no_compute, fake_run, from_run_argv
from tests.helpers.safety import SHAPE, predict_argv, refused


@pytest.fixture()
def c(tmp_path, monkeypatch):
    return faked_case(tmp_path, monkeypatch)


RGB = np.dtype([("R", "u1"), ("G", "u1"), ("B", "u1")])


@pytest.mark.parametrize(
    "kind,needle", [("2D", "not a 3D volume"), ("RGB24", "stores RGB voxels"), ("4D", "not a 3D volume")]
)
@pytest.mark.parametrize("from_run", [True, False])
def test_a_2d_or_rgb_scan_is_refused_by_its_header(c, tmp_path, capsys, monkeypatch, kind, needle, from_run):
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", no_compute)
    data = {"2D": np.ones(SHAPE[:2], np.float32), "RGB24": np.ones(SHAPE, RGB), "4D": np.ones((*SHAPE, 3), np.float32)}[
        kind
    ]
    nib.save(nib.Nifti1Image(data, c["affine"]), tmp_path / "in" / "odd.nii.gz")
    argv = (
        from_run_argv(fake_run(tmp_path / "wf"), c, tmp_path / "out" / "x.nii.gz", image=tmp_path / "in" / "odd.nii.gz")
        if from_run
        else predict_argv(c, tmp_path / "out" / "x.nii.gz", image=tmp_path / "in" / "odd.nii.gz")
    )
    line = refused(argv, needle, tmp_path, capsys)
    assert str(tmp_path / "in" / "odd.nii.gz") in line and "unexpected" not in line

"""What predict must not accept silently: an all-zero
image inside the mask, a T1 model on a T2 scan."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from patch2loc import cli
from tests.helpers.safety import SHAPE, predict_argv, refused


# ---------------------------------------------------------------- case 6: accepted silently before


def test_all_zero_image_inside_the_mask(c, tmp_path, capsys):
    nib.save(nib.Nifti1Image(np.zeros(SHAPE, np.float32), c["affine"]), tmp_path / "in" / "zero.nii.gz")
    refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", image=tmp_path / "in" / "zero.nii.gz"),
        "constant (0) inside the brain mask",
        tmp_path,
        capsys,
    )


def test_t1_model_on_a_t2_scan(c, tmp_path, capsys):
    out = tmp_path / "out" / "h.nii.gz"
    line = refused(predict_argv(c, out, "--modality", "T2"), "trained on T1 scans, not T2", tmp_path, capsys)
    assert "--allow-mismatch" in line
    with pytest.warns(UserWarning, match="trained on T1"):
        assert cli.main(predict_argv(c, out, "--modality", "T2", "--allow-mismatch")) == 0
    assert cli.main(predict_argv(c, tmp_path / "out" / "t1.nii.gz", "--modality", "T1")) == 0

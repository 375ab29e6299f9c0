"""The alignment measure of two contrasts (patch2loc.preprocessing.alignment) on crafted transforms."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from patch2loc.preprocessing.alignment import displacement_mm, mask_dice, via_reference_mm


def _files(tmp_path, shift_b_lps=(0.0, 0.0, 0.0)):
    mask = np.zeros((10, 10, 10), np.uint8)
    mask[2:8, 2:8, 2:8] = 1
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    paths = {}
    for name, shift in (("a", (0.0, 0.0, 0.0)), ("b", shift_b_lps)):
        nib.save(nib.Nifti1Image(mask, affine), str(tmp_path / f"{name}_mask.nii.gz"))
        sitk.WriteTransform(sitk.TranslationTransform(3, shift), str(tmp_path / f"{name}.tfm"))
        paths[name] = (tmp_path / f"{name}_mask.nii.gz", tmp_path / f"{name}.tfm")
    return paths


def test_registrations_that_agree_with_the_truth_are_zero_apart(tmp_path):
    p = _files(tmp_path, shift_b_lps=(3.0, 0.0, 0.0))  # b's scan lies 3 mm further along L (LPS x)
    truth = np.eye(4)
    truth[0, 3] = 3.0  # b's native world -> a's, RAS: +3 mm in R is -3 mm in L
    d = displacement_mm(p["a"][0], p["b"][0], p["a"][1], p["b"][1], truth)
    np.testing.assert_allclose(d, 0.0, atol=1e-9)
    assert mask_dice(p["a"][0], p["b"][0]) == 1.0


def test_a_registration_off_by_2_mm_is_2_mm_apart_everywhere(tmp_path):
    p = _files(tmp_path, shift_b_lps=(0.0, 2.0, 0.0))
    d = displacement_mm(p["a"][0], p["b"][0], p["a"][1], p["b"][1], np.eye(4))
    np.testing.assert_allclose(d, 2.0)
    off = sitk.TranslationTransform(3, (0.0, 0.0, 1.5))  # b registered to a, 1.5 mm off
    np.testing.assert_allclose(via_reference_mm(p["a"][0], p["a"][1], off, np.eye(4)), 1.5)

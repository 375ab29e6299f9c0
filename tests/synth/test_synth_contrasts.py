"""The demo's BraTS21 and MSLUB also write T1: the same anatomy and lesion on their T2's
grid, with a contrast of its own, and not one byte of what the demo wrote before changes."""

from __future__ import annotations

import hashlib

import nibabel as nib
import numpy as np
import pytest

from patch2loc.data.layouts import raw_paths
from patch2loc.synth import render_scan, synthesize_dataset

SUBJECTS = {"BraTS21": "BraTS2021_00000", "MSLUB": "patient01"}
SEED, SPACING = 7, 6.0  # a tiny synthesis: 6 mm voxels, one subject per set

# sha256 of the files the synthesiser wrote before T1 existed for these sets (T2 must not change)
# with synthesize_dataset(dataset, [subject], root, 7, 6.0, ("T2",), "anatomical"), on this
# project's build machine (2026-11-25); nibabel writes gzip with a zero time stamp, so the bytes repeat.
RECORDED = {
    "BraTS21/BraTS2021_00000/BraTS2021_00000_t2.nii.gz": "d19dbf1b0bba3706d7e5e3ccc11fd2d3b338b224cbb4dc16e7ee1133a8dcf241",
    "BraTS21/BraTS2021_00000/BraTS2021_00000_seg.nii.gz": "da38192650e9e81d86994cc0e84571568ac6ae578619f85b5d2675ec506b930e",
    "MSLUB/coregistered/patient01/T2W.nii.gz": "327a3cc80830b47c513019aea8d5be3936bad2b672551e9c96f015742b2d2670",
    "MSLUB/coregistered/patient01/brainmask.nii.gz": "360d2adc65ee784309094e3cf193bd0e706618e753500e741b8e61db740411f8",
    "MSLUB/coregistered/patient01/consensus_gt.nii.gz": "2678475987925caaed818e5ba4911929638dfc0fa3b16acfcd9f44cc78eef36a",
}


def _digests(root, datasets=SUBJECTS) -> dict:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for d in datasets
        for p in sorted((root / d).rglob("*.nii.gz"))
    }


@pytest.mark.parametrize("modalities", [("T2",), ("T2", "T1")])
def test_the_t2_files_are_todays_byte_for_byte(tmp_path, modalities):
    for dataset, subject in SUBJECTS.items():
        synthesize_dataset(dataset, [subject], tmp_path, SEED, SPACING, modalities, "anatomical")
    written = _digests(tmp_path)
    assert {k: written[k] for k in RECORDED} == RECORDED
    t1 = {k for k in written if k not in RECORDED}
    assert t1 == (
        {"BraTS21/BraTS2021_00000/BraTS2021_00000_t1.nii.gz", "MSLUB/coregistered/patient01/T1W.nii.gz"}
        if "T1" in modalities
        else set()
    )


@pytest.mark.parametrize("dataset", list(SUBJECTS))
def test_t1_is_the_same_brain_and_lesion_on_t2s_grid_in_its_own_contrast(tmp_path, dataset):
    synthesize_dataset(dataset, [SUBJECTS[dataset]], tmp_path, SEED, SPACING, ("T2", "T1"), "anatomical")
    t2, t1 = (nib.load(str(raw_paths(dataset, tmp_path, SUBJECTS[dataset], c).image)) for c in ("T2", "T1"))
    assert t1.shape == t2.shape and np.allclose(t1.affine, t2.affine)
    rendered = {c: render_scan(dataset, c, 123, SPACING, grid_of="T2", noise=False) for c in ("T2", "T1")}
    np.testing.assert_array_equal(rendered["T1"].brain, rendered["T2"].brain)
    np.testing.assert_array_equal(rendered["T1"].seg, rendered["T2"].seg)
    assert rendered["T1"].seg.any()
    t1_brain, t2_brain = (rendered[c].image[rendered["T2"].brain] for c in ("T1", "T2"))
    fluid = t2_brain > np.percentile(t2_brain, 90)  # the brightest in T2 (CSF) is dark in T1: its own contrast
    assert np.median(t1_brain[fluid]) < 0.9 * np.median(t1_brain)  # a rescaled T2: above it


def test_a_contrast_rendered_on_its_own_grid_keeps_its_own_pose():
    own = render_scan("IXI", "T1", 5, SPACING, noise=False)
    assert not np.allclose(own.pose, render_scan("IXI", "T2", 5, SPACING, noise=False).pose)
    on_t2 = render_scan("MSLUB", "T1", 5, SPACING, grid_of="T2", noise=False)
    np.testing.assert_allclose(on_t2.pose, render_scan("MSLUB", "T2", 5, SPACING, noise=False).pose)

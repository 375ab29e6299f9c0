"""Lesion label files of every integer width, floats, label 2, negative and huge values, read the one way
(checks/labels.py) by native-space scoring, the chain's ground truth and predict's --seg: a label is kept
exactly or the file is refused in one line, never wrapped, rounded or dropped."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from patch2loc.data.layouts import RawScan
from patch2loc.errors import InputError
from patch2loc.evaluation.challenges import isles22, wmh
from patch2loc.evaluation.dataset.scan_grid import native_labels
from patch2loc.preprocessing.pipeline import PreprocessConfig, read_step
from tests.helpers.safety import make_case, predict_argv, refused

SHAPE = (12, 10, 6)


def _files(folder: Path, labels: np.ndarray) -> tuple[Path, Path]:
    image = np.random.default_rng(0).normal(100, 20, SHAPE).astype(np.float32)
    nib.save(nib.Nifti1Image(image, np.eye(4)), folder / "image.nii.gz")
    nib.save(nib.Nifti1Image(labels, np.eye(4), dtype=labels.dtype), folder / "seg.nii.gz")
    return folder / "image.nii.gz", folder / "seg.nii.gz"


def _labels(value, dtype) -> np.ndarray:
    out = np.zeros(SHAPE, dtype)
    out[3:6, 3:6, 2:4] = value
    out[8, 8, 1] = 2 if np.dtype(dtype).kind != "b" else 1
    return out


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.uint16, np.int32, np.uint32, np.int64, np.float32])
def test_whole_labels_of_every_width_are_kept(tmp_path, dtype):
    image, seg = _files(tmp_path, _labels(1, dtype))
    labels = native_labels(str(image), str(seg))
    assert sorted(np.unique(labels)) == [0, 1, 2]
    truth, ignore = wmh.truths(labels)[""]
    assert truth.sum() == 18 and ignore.sum() == 1  # label 2, WMH's other pathology, left out


def test_a_large_unsigned_label_is_a_lesion_not_a_negative_number(tmp_path):
    """Before: uint32 40,000 became int16 -25,536 on the native grid and the lesion vanished."""
    image, seg = _files(tmp_path, _labels(40_000, np.uint32))
    labels = native_labels(str(image), str(seg))
    assert labels.max() == 40_000 and (labels > 0).sum() == 19
    truth, _ = isles22.truths(labels)[""]  # every label > 0 is lesion
    assert truth.sum() == 19


@pytest.mark.parametrize(
    "value, dtype, needle",
    [
        (0.5, np.float32, "not whole numbers \\(e.g. 0.5\\)"),  # before: rounded to 0, the lesion dropped
        (1.5, np.float32, "not whole numbers \\(e.g. 1.5\\)"),  # before: rounded to 2, WMH's "other pathology"
        (-3, np.int16, "the value -3"),
        (2**40, np.uint64, "the value 1.09951e\\+12"),
        (3e9, np.float64, "the value 3e\\+09"),
    ],
)
def test_labels_that_are_not_whole_numbers_in_range_are_refused(tmp_path, value, dtype, needle):
    image, seg = _files(tmp_path, _labels(value, dtype))
    with pytest.raises(InputError, match=f"seg.nii.gz: the lesion mask holds .*{needle}"):
        native_labels(str(image), str(seg))
    scan = RawScan("WMH", "T1", "s", image, seg, None)
    with pytest.raises(InputError, match=needle):  # the chain's registered ground truth: the same rule
        read_step(scan, PreprocessConfig())


def test_the_chain_keeps_label_two_and_large_labels(tmp_path):
    image, seg = _files(tmp_path, _labels(40_000, np.uint32))
    for other_pathology, expected in ((True, 19), (False, 0)):
        scan = RawScan("WMH", "T1", "s", image, seg, None)
        _, lesion, _ = read_step(scan, PreprocessConfig(wmh_other_pathology=other_pathology))
        import SimpleITK as sitk

        assert int(sitk.GetArrayViewFromImage(lesion).sum()) == expected  # WMH only: label 1 alone, none here


def test_label_values_on_arrays():
    from patch2loc.checks.labels import label_values

    assert label_values(np.array([True, False]), "x").tolist() == [1, 0]
    assert label_values(np.zeros(0, np.float32), "x").size == 0
    with pytest.raises(InputError, match="NaN"):
        label_values(np.array([np.nan, 1.0]), "x")


def _no_compute(*args, **kwargs):
    raise AssertionError("compute started before the check")


def test_predict_refuses_a_seg_of_fractions_like_the_workflow_before_compute(tmp_path, capsys, monkeypatch):
    """--seg of 0.5 everywhere counted every voxel as lesion, where native scoring dropped it: one rule now,
    checked before the scan is scored."""
    monkeypatch.setattr("patch2loc.methods.patch2loc.heatmap.score_volume", _no_compute)
    case = make_case(tmp_path / "in")
    seg = tmp_path / "in" / "seg.nii.gz"
    nib.save(nib.Nifti1Image(np.full((16, 16, 4), 0.5, np.float32), case["affine"]), seg)
    argv = predict_argv(case, tmp_path / "out" / "h.nii.gz", "--seg", str(seg), "--threshold", "0.5")
    refused(argv, "not whole numbers", tmp_path, capsys)

"""Checks come before the whole compute, not after it: a missing
--seg or one on another grid, and bad landmarks or chain settings in the --from-run folder.
Scoring and preprocessing are replaced by functions that fail the test if they are reached."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import yaml
from tests.helpers.fake_chain import from_run_argv
from tests.helpers.hostile import fake_run
from tests.helpers.safety import SHAPE, make_case, predict_argv, refused


def _no_compute(*args, **kwargs):
    raise AssertionError("compute started before the check")


@pytest.fixture()
def c(tmp_path, monkeypatch):
    monkeypatch.setattr("patch2loc.methods.patch2loc.heatmap.score_volume", _no_compute)
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", _no_compute)
    return make_case(tmp_path / "in")


# ---------------------------------------------------------------- --seg


@pytest.mark.parametrize("from_run", [False, True])
def test_missing_seg_is_refused_before_compute(c, tmp_path, capsys, from_run):
    seg = tmp_path / "in" / "no_such_seg.nii.gz"
    argv = (
        from_run_argv(fake_run(tmp_path / "wf"), c, tmp_path / "out" / "h.nii.gz", "--seg", str(seg))
        if from_run
        else predict_argv(c, tmp_path / "out" / "h.nii.gz", "--seg", str(seg))
    )
    refused(argv, f"{seg}: lesion mask (--seg) not found", tmp_path, capsys)


@pytest.mark.parametrize("grid", ["shape", "affine"])
@pytest.mark.parametrize("from_run", [False, True])
def test_seg_on_another_grid_is_refused_before_compute(c, tmp_path, capsys, grid, from_run):
    shape = (SHAPE[0] + 2, *SHAPE[1:]) if grid == "shape" else SHAPE
    affine = c["affine"].copy()
    if grid == "affine":
        affine[:3, 3] += (3.0, 0.0, 0.0)  # two voxels off
    nib.save(nib.Nifti1Image(np.zeros(shape, np.uint8), affine), tmp_path / "in" / "seg.nii.gz")
    argv = ["--seg", str(tmp_path / "in" / "seg.nii.gz")]
    argv = (
        from_run_argv(fake_run(tmp_path / "wf"), c, tmp_path / "out" / "h.nii.gz", *argv)
        if from_run
        else predict_argv(c, tmp_path / "out" / "h.nii.gz", *argv)
    )
    line = refused(argv, "seg.nii.gz: --seg grid", tmp_path, capsys)
    assert "on the input scan's own grid" in line and str(c["image"]) in line


# ---------------------------------------------------------------- the run folder


def _npy_claiming(path, shape, dtype="<f8") -> None:
    """A .npy whose header claims `shape` but which holds 16 bytes of data."""
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(b"\0" * 16)


@pytest.mark.parametrize(
    "landmarks,needle",
    [
        ("nan", "the landmarks are not finite and increasing"),
        ("decreasing", "the landmarks are not finite and increasing"),
        ("flat", "not a landmarks file (a float64 array of shape (11,), not [2, L] numbers)"),
        ("objects", "not a landmarks file"),
        ("huge", "not a landmarks file (a float64 array of shape (2, 1000000000), not [2, L] numbers)"),
        ("text", "not a landmarks file"),
    ],
)
def test_bad_landmarks_are_refused_when_the_run_is_opened(c, tmp_path, capsys, landmarks, needle):
    run = fake_run(tmp_path / "wf")
    path = run / "landmarks" / "T1.npy"
    table = np.vstack([np.linspace(1, 100, 11), [1, *range(10, 100, 10), 99]])
    if landmarks == "nan":
        table[0, 3] = np.nan
        np.save(path, table)
    elif landmarks == "decreasing":
        np.save(path, table[:, ::-1])
    elif landmarks == "flat":
        np.save(path, table[0])
    elif landmarks == "objects":
        np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif landmarks == "huge":
        _npy_claiming(path, (2, 10**9))
    else:
        path.write_text("1,2,3")
    line = refused(from_run_argv(run, c, tmp_path / "out" / "h.nii.gz"), needle, tmp_path, capsys)
    assert str(path) in line and "fit_landmarks" in line


@pytest.mark.parametrize(
    "key,value,needle",
    [
        ("spacing", [0.0, 6.0, 6.0], "preprocess.spacing [0.0, 6.0, 6.0] must be 3 voxel sizes > 0"),
        ("spacing", [6.0, -1.0, 6.0], "must be 3 voxel sizes > 0"),
        ("target_shape", [4000, 4000, 4000], "PATCH2LOC_MAX_IMAGE_MB"),
        ("target_shape", [16, 0, 4], "preprocess.target_shape [16, 0, 4] or normalize.percentile 98.0 is invalid"),
    ],
)
def test_bad_chain_settings_in_the_run_config_are_refused_first(c, tmp_path, capsys, key, value, needle):
    run = fake_run(tmp_path / "wf")
    cfg = yaml.safe_load((run / "config.resolved.yaml").read_text())
    cfg["preprocess"][key] = value
    (run / "config.resolved.yaml").write_text(yaml.safe_dump(cfg))
    refused(from_run_argv(run, c, tmp_path / "out" / "h.nii.gz"), needle, tmp_path, capsys)

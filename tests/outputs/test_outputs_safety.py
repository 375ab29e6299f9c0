"""Predict's outputs: outputs never replace inputs, checks come before compute, file modes.
The file's other cases, beside what they attack: devices in cli/test_devices_safety.py,
checkpoints in checkpoint/test_checkpoint_safety.py, an all-zero scan and the modality in
predict/test_predict_safety.py.

Every refusal is checked the same way (`refused`): exit 2, one stderr line naming the problem,
and the watched folder byte-identical afterwards (no input changed, no output or temp file left).
"""

from __future__ import annotations

import os
import stat

import pytest
from tests.helpers.safety import predict_argv, refused

from patch2loc import cli


# ---------------------------------------------------------------- case 1: outputs replacing inputs


@pytest.mark.parametrize(
    "flag,target", [("--out", "image"), ("--out", "mask"), ("--png", "image"), ("--png", "mask"), ("--out", "ckpt")]
)
def test_output_equal_to_an_input_is_refused(c, tmp_path, capsys, flag, target):
    argv = predict_argv(c, tmp_path / "in" / "heat.nii.gz")
    argv += [flag, str(c[target])] if flag == "--png" else []
    if flag == "--out":
        argv[argv.index("--out") + 1] = str(c[target])
    # the suffix check may speak first for --png image.nii.gz; either way nothing is written
    line = refused(argv, str(c[target]), tmp_path, capsys)
    assert "same file" in line or "must end in" in line


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_output_that_is_a_link_to_an_input_is_refused(c, tmp_path, capsys, link):
    alias = tmp_path / "in" / "alias.nii.gz"
    (os.symlink if link == "symlink" else os.link)(c["image"], alias)
    line = refused(predict_argv(c, alias), "same file as --image", tmp_path, capsys)
    assert str(alias) in line


def test_out_and_png_relative_paths_through_dotdot_are_the_same_file(c, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path / "in")
    refused(predict_argv(c, tmp_path / "in" / ".." / "in" / "image.nii.gz"), "same file", tmp_path, capsys)


# ---------------------------------------------------------------- case 4: failures before compute


@pytest.mark.parametrize(
    "name,needle",
    [
        ("heat.png", "must end in .nii.gz"),
        ("model.pt", "must end in"),
        ("dir.nii.gz", "existing folder"),
        ("afile/heat.nii.gz", "not a folder"),
    ],
)
def test_odd_out_fails_before_compute(c, tmp_path, capsys, monkeypatch, name, needle):
    (tmp_path / "out" / "existing_dir").mkdir(parents=True)
    (tmp_path / "out" / "dir.nii.gz").mkdir()
    (tmp_path / "out" / "afile").write_text("x")
    monkeypatch.setattr("patch2loc.methods.patch2loc.heatmap.score_volume", _no_compute)
    refused(predict_argv(c, tmp_path / "out" / name), needle, tmp_path, capsys)


def test_png_with_another_suffix_fails_before_compute(c, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("patch2loc.methods.patch2loc.heatmap.score_volume", _no_compute)
    refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", "--png", str(tmp_path / "out" / "h.nii")),
        "--png must end in .png",
        tmp_path,
        capsys,
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_out_folder_fails_before_compute(c, tmp_path, capsys, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setattr("patch2loc.methods.patch2loc.heatmap.score_volume", _no_compute)
    try:
        refused(predict_argv(c, ro / "h.nii.gz"), "not writable", tmp_path, capsys)
    finally:
        ro.chmod(0o755)


def test_png_failure_leaves_neither_png_nor_heatmap(c, tmp_path, capsys, monkeypatch):
    def broken_png(*args, **kwargs):
        raise OSError("disk full")

    import patch2loc.predict.overview as overview

    monkeypatch.setattr(overview, "overview_png", broken_png)
    out = tmp_path / "out"
    out.mkdir()
    refused(predict_argv(c, out / "h.nii.gz", "--png", str(out / "h.png")), "disk full", tmp_path, capsys)
    assert list(out.iterdir()) == []  # committed together: no heatmap without its PNG, no temp files


def _no_compute(*args, **kwargs):
    raise AssertionError("compute started before the output checks")


# ---------------------------------------------------------------- case 9: file modes


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_outputs_get_the_users_file_mode(c, tmp_path, umask):
    old = os.umask(umask)
    try:
        out = tmp_path / "out"
        assert cli.main(predict_argv(c, out / "h.nii.gz", "--png", str(out / "h.png"))) == 0
    finally:
        os.umask(old)
    names = sorted(p.name for p in out.iterdir())
    assert names == ["h.nii.gz", "h.png", "h_components.csv", "h_summary.json"]
    for name in names:
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~umask, name

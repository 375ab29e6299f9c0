"""Issue 9, predict: outputs never replace inputs, checks come before compute, devices, modality.

Every refusal is checked the same way (`refused`): exit 2, one stderr line naming the problem,
and the watched folder byte-identical afterwards (no input changed, no output or temp file left).
"""

from __future__ import annotations

import os
import stat

import nibabel as nib
import numpy as np
import pytest
import torch
from tests.helpers.safety import SHAPE, make_case, predict_argv, refused

from patch2loc import cli


@pytest.fixture()
def c(tmp_path):
    return make_case(tmp_path / "in")


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


# ---------------------------------------------------------------- case 2: checkpoints never run code


def test_checkpoint_whose_pickle_creates_a_file_is_refused(c, tmp_path, capsys):
    witness = tmp_path / "created_by_pickle"

    class Payload:
        def __reduce__(self):
            return (open, (str(witness), "w"))

    torch.save({"model": {}, "patch_size": 2, "payload": Payload()}, tmp_path / "in" / "evil.pt")
    line = refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", ckpt=tmp_path / "in" / "evil.pt"), "refused", tmp_path, capsys
    )
    assert "evil.pt" in line and "io.open" in line
    assert not witness.exists()


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


# ---------------------------------------------------------------- case 5: devices


@pytest.mark.parametrize("command", ["predict", "train"])
def test_unknown_device_name(c, tmp_path, capsys, command):
    if command == "predict":
        argv = predict_argv(c, tmp_path / "out" / "h.nii.gz")
        argv[argv.index("--device") + 1] = "gpu"
    else:
        (tmp_path / "in" / "l.csv").write_text(f"image,mask\n{c['image']},{c['mask']}\n")
        argv = [
            "train",
            "--train-list",
            str(tmp_path / "in" / "l.csv"),
            "--val-list",
            str(tmp_path / "in" / "l.csv"),
            "--out",
            str(tmp_path / "run"),
            "--device",
            "gpu",
        ]
    line = refused(argv, "'gpu': unknown device", tmp_path, capsys)
    assert "auto, cpu, cuda or cuda:N" in line


@pytest.mark.parametrize("command", ["predict", "train"])
def test_cuda_without_a_gpu_says_what_is_missing(c, tmp_path, capsys, monkeypatch, command):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    if command == "predict":
        argv = predict_argv(c, tmp_path / "out" / "h.nii.gz")
        argv[argv.index("--device") + 1] = "cuda"
    else:
        (tmp_path / "in" / "l.csv").write_text(f"image,mask\n{c['image']},{c['mask']}\n")
        argv = [
            "train",
            "--train-list",
            str(tmp_path / "in" / "l.csv"),
            "--val-list",
            str(tmp_path / "in" / "l.csv"),
            "--out",
            str(tmp_path / "run"),
            "--device",
            "cuda",
        ]
    line = refused(argv, "--device cuda: no CUDA GPU available", tmp_path, capsys)
    assert "checkpoint" not in line and "--device cpu" in line


def test_cuda_index_beyond_the_gpus(c, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    argv = predict_argv(c, tmp_path / "out" / "h.nii.gz")
    argv[argv.index("--device") + 1] = "cuda:3"
    refused(argv, "has 1 CUDA GPU(s)", tmp_path, capsys)


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

"""No tracebacks. An all-zero raw scan, a full disk, running out of memory, a
foreign or damaged resume state and a corrupt loss.csv each end in one line, exit 2, and leave
nothing half-written."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import torch
from tests.helpers.fake_chain import no_compute, fake_prepare, fake_run, from_run_argv
from tests.helpers.safety import SHAPE, predict_argv, refused, train_argv
from tests.helpers.checkpoints import as_written

import patch2loc.training.harness as harness_mod
import patch2loc.methods.patch2loc.train as train_mod
from patch2loc import cli
from patch2loc.files.staging import TEMP_MARK


# ---------------------------------------------------------------- predict


def test_all_zero_raw_scan_is_one_line_before_registration(c, tmp_path, capsys, monkeypatch):
    run = fake_run(tmp_path / "wf")
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", no_compute)
    nib.save(nib.Nifti1Image(np.zeros(SHAPE, np.int16), c["affine"]), tmp_path / "in" / "zero.nii.gz")
    line = refused(
        from_run_argv(run, c, tmp_path / "o" / "h.nii.gz", image=tmp_path / "in" / "zero.nii.gz"),
        "zero.nii.gz: the raw scan is constant (0 everywhere)",
        tmp_path,
        capsys,
    )
    assert "ITK" not in line


def test_from_run_with_the_fake_chain_works(c, tmp_path, monkeypatch):
    """The fake chain the tests here use gives the full set of --from-run outputs."""
    run = fake_run(tmp_path / "wf")
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", fake_prepare)
    assert cli.main(from_run_argv(run, c, tmp_path / "o" / "h.nii.gz", "--threshold", "3")) == 0
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "h.nii.gz",
        "h_components.csv",
        "h_lesions.nii.gz",
        "h_native.nii.gz",
        "h_native_lesions.nii.gz",
        "h_preprocessed",
        "h_summary.json",
    ]


def test_disk_full_while_predicting_is_one_line_and_leaves_nothing(c, tmp_path, capsys, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("patch2loc.predict.lesions.components_csv", full)  # after the heatmaps were staged
    line = refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", "--threshold", "3"),
        "no space left on the device",
        tmp_path,
        capsys,
    )
    assert "Errno" not in line and "Free space" in line


@pytest.mark.slow  # end to end (subprocesses, Snakemake or the real chain): out of make test-fast
@pytest.mark.skipif(os.geteuid() != 0 or not sys.platform.startswith("linux"), reason="mounting a tmpfs needs root")
def test_disk_full_on_a_real_tiny_filesystem(c, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mount -t tmpfs is not permitted here (a container without CAP_SYS_ADMIN)")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "patch2loc.cli", *predict_argv(c, disk / "h.nii.gz", "--png", str(disk / "h.png"))],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        err = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(err) == 1 and "no space left" in err[0], proc.stderr
        assert list(disk.iterdir()) == []
    finally:
        subprocess.run(["umount", str(disk)], check=True)


@pytest.mark.parametrize(
    "exc",
    [
        MemoryError(),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] data. "
            "DefaultCPUAllocator: can't allocate memory: you tried "
            "to allocate 12713115648 bytes."
        ),
    ],
)
def test_out_of_memory_is_one_line_without_the_python_name(c, tmp_path, capsys, monkeypatch, exc):
    def no_memory(*args, **kwargs):
        raise exc

    monkeypatch.setattr("patch2loc.predict.ensemble.ensemble_score", no_memory)
    line = refused(predict_argv(c, tmp_path / "out" / "h.nii.gz"), "out of memory", tmp_path, capsys)
    assert "MemoryError" not in line and "enforce fail" not in line and "--batch-size" in line


def test_an_unexpected_error_is_one_line_that_says_bug(c, tmp_path, capsys, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("float division by zero")

    monkeypatch.setattr("patch2loc.predict.ensemble.ensemble_score", broken)
    line = refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz"), "unexpected ZeroDivisionError", tmp_path, capsys, status=1
    )
    assert "PATCH2LOC_DEBUG=1" in line


# ---------------------------------------------------------------- train


@pytest.fixture()
def lists(c, tmp_path):
    (tmp_path / "in" / "l.csv").write_text("image,mask\nimage.nii.gz,mask.nii.gz\n")
    return tmp_path / "in" / "l.csv"


def _train(lists, run, *extra):
    return train_argv(lists, lists, run, *extra)


def test_disk_full_while_training_keeps_the_last_checkpoint_and_a_whole_loss_csv(lists, tmp_path, capsys, monkeypatch):
    real = harness_mod.save_checkpoint
    calls = {"n": 0}

    def fills_up(path, ckpt):  # torch's writer reports a full disk like this
        calls["n"] += 1
        if ckpt["step"] == 2 and path.name == "last.pt":
            raise RuntimeError("[enforce fail at inline_container.cc:671] . unexpected pos 201152 vs 201048")
        real(path, ckpt)

    monkeypatch.setattr(harness_mod, "save_checkpoint", fills_up)
    run = tmp_path / "run"
    capsys.readouterr()
    assert cli.main(_train(lists, run)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "last.pt" in err[0] and "disk full" in err[0] and "resume" in err[0], err
    assert "enforce" not in err[0]
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt", "loss.csv"]  # no temp files
    last = torch.load(run / "last.pt", weights_only=True)
    rows = (run / "loss.csv").read_text().splitlines()
    assert last["step"] == 1 and len(rows) == 2 and rows[1].startswith("1,")  # not ahead of last.pt
    monkeypatch.setattr(harness_mod, "save_checkpoint", real)
    assert cli.main(_train(lists, run)) == 0  # resumes
    assert [r.split(",")[0] for r in (run / "loss.csv").read_text().splitlines()] == ["step", "1", "2"]


def test_a_foreign_resume_state_without_config(lists, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    torch.save(as_written({"model": {}, "patch_size": 2, "step": 3}) | {"config": None}, run / "last.pt")
    line = refused(_train(lists, run), "last.pt: not a usable Patch2Loc resume state: no 'config'", tmp_path, capsys)
    assert "start over" in line


def test_a_resume_state_without_its_loss_curve(lists, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(_train(lists, run, "--steps", "1")) == 0
    ckpt = torch.load(run / "last.pt", weights_only=True)
    del ckpt["loss_rows"]
    torch.save(ckpt, run / "last.pt")
    line = refused(_train(lists, run), "last.pt: not a resume state written by patch2loc train", tmp_path, capsys)
    assert "loss_rows" in line and "start over" in line


def test_a_resume_state_whose_weights_do_not_fit(lists, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(_train(lists, run, "--steps", "1")) == 0
    ckpt = torch.load(run / "last.pt", weights_only=True)
    ckpt["model"] = {k: torch.zeros(1) for k in ckpt["model"]}
    torch.save(ckpt, run / "last.pt")
    refused(_train(lists, run), "do not fit this model", tmp_path, capsys)


def test_a_corrupt_loss_csv(lists, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(_train(lists, run, "--steps", "1")) == 0
    (run / "loss.csv").write_text("step,train_loss\n1,abc\n\x00\x00\n")
    assert cli.main(_train(lists, run)) == 0  # last.pt holds the rows: loss.csv is rebuilt
    assert [r.split(",")[0] for r in (run / "loss.csv").read_text().splitlines()] == ["step", "1", "2"]


def test_training_left_no_temp_files_on_failure(lists, tmp_path, capsys, monkeypatch):
    def no_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(train_mod, "train_step", no_memory)
    line = refused(_train(lists, tmp_path / "run"), "out of memory", tmp_path, capsys)
    assert "--patches" in line and not (tmp_path / "run").exists()  # the folder it made is gone again
    assert not any(TEMP_MARK in p.name for p in tmp_path.rglob("*"))

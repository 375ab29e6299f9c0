"""Paths SimpleITK cannot open, flag values, csv paths.

A non-UTF-8 path made SimpleITK abort the process (SIGABRT), killing a whole folder batch and
leaving a 0700 staging folder; now it is refused in one line (the batch goes on). Flag values are
checked before any compute: finite numbers, sane absolute limits, and a stride / median filter
that fits the grid the model scores. Train's csv paths are relative to the csv, as predict's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from tests.helpers.fake_chain import no_compute, fake_run, from_run_argv
from tests.helpers.safety import predict_argv, refused, train_on

from patch2loc.cli.train import read_pairs
from patch2loc.files.staging import TEMP_MARK

NOT_UTF8 = os.fsdecode(b"b\xff\xfe")  # a name made on a Latin-1 system


# ---------------------------------------------------------------- case 8: non-UTF-8 paths


def test_non_utf8_out_with_from_run_is_one_line(c, tmp_path, capsys, monkeypatch):
    run = fake_run(tmp_path / "wf")
    monkeypatch.setattr("patch2loc.predict.runchain.RunChain.prepare", no_compute)
    line = refused(from_run_argv(run, c, tmp_path / NOT_UTF8 / "h.nii.gz"), "is not valid UTF-8", tmp_path, capsys)
    assert "--out" in line and "\\xff\\xfe" in line


BATCH = """
import sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from tests.helpers.fake_chain import fake_prepare
import patch2loc.predict.runchain as runchain
from patch2loc import cli
runchain.RunChain.prepare = fake_prepare
sys.exit(cli.main(sys.argv[2:]))
"""


@pytest.mark.slow  # end to end (subprocesses, Snakemake or the real chain): out of make test-fast
def test_a_folder_batch_with_a_non_utf8_scan_goes_on(c, tmp_path):
    """Run in a child process: if the check ever went missing, SimpleITK would abort it (and not
    the test session)."""
    scans = tmp_path / "scans"
    scans.mkdir()
    shutil.copy(c["image"], scans / "good.nii.gz")
    shutil.copy(c["image"], scans / f"{NOT_UTF8}.nii.gz")
    run, out = fake_run(tmp_path / "wf"), tmp_path / "out"
    argv = predict_argv(c, out, "--skull-strip", "none", image=scans, mask=False, from_run=run)
    proc = subprocess.run(
        [sys.executable, "-c", BATCH, str(Path(__file__).resolve().parents[2]), *argv],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    err = proc.stderr.decode("utf-8", "backslashreplace").strip().splitlines()
    assert proc.returncode == 1, err  # one scan failed, the process did not abort
    assert len(err) == 1 and "b\\xff\\xfe.nii.gz" in err[0] and "not valid UTF-8" in err[0], err
    assert (out / "good_summary.json").is_file() and (out / "good_native.nii.gz").is_file()
    assert not any(p.name.startswith("b") for p in out.iterdir())
    assert not any(TEMP_MARK in p.name for p in tmp_path.rglob("*"))  # no 0700 staging folder left


# ---------------------------------------------------------------- case 10: flag values


@pytest.mark.parametrize(
    "flag,value,needle",
    [
        ("--threshold", "nan", "finite"),
        ("--threshold", "-inf", "finite"),
        ("--threshold", "inf", "finite"),
        ("--stride", "200", "<= 16"),
        ("--stride", "0", ">= 1"),
        ("--median-size", "99", "<= 15"),
        ("--median-size", "31", "<= 15"),
        ("--batch-size", "100000000", "<= 65536"),
        ("--folds", "-1", ">= 0"),
    ],
)
def test_predict_flag_out_of_range(c, tmp_path, capsys, monkeypatch, flag, value, needle):
    monkeypatch.setattr("patch2loc.methods.patch2loc.heatmap.score_volume", no_compute)
    line = refused(
        predict_argv(c, tmp_path / "out" / "h.nii.gz", f"{flag}={value}"), f"argument {flag}: ", tmp_path, capsys
    )  # flag=value: argparse takes a lone "-inf" for an option
    assert needle in line


def test_stride_and_median_size_must_fit_the_slice(c, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("patch2loc.methods.patch2loc.heatmap.score_volume", no_compute)
    line = refused(predict_argv(c, tmp_path / "out" / "h.nii.gz", "--stride", "8"), "--stride 8", tmp_path, capsys)
    assert "16 x 16 slice grid" in line and "7 at most" in line
    small = np.random.default_rng(0).normal(1, 0.3, (8, 8, 4)).astype(np.float32)
    nib.save(nib.Nifti1Image(small, c["affine"]), tmp_path / "in" / "small.nii.gz")
    nib.save(nib.Nifti1Image(np.ones((8, 8, 4), np.uint8), c["affine"]), tmp_path / "in" / "small_mask.nii.gz")
    argv = predict_argv(
        c,
        tmp_path / "out" / "h.nii.gz",
        "--median-size",
        "9",
        image=tmp_path / "in" / "small.nii.gz",
        mask=tmp_path / "in" / "small_mask.nii.gz",
    )
    line = refused(argv, "--median-size 9", tmp_path, capsys)
    assert "8 at most" in line


@pytest.mark.parametrize(
    "flag,value",
    [
        ("--lr", "nan"),
        ("--lr", "0"),
        ("--seed", "-1"),
        ("--steps", "0"),
        ("--patches", "10000000"),
        ("--num-threads", "0"),
    ],
)
def test_train_flag_out_of_range(c, tmp_path, capsys, flag, value):
    (tmp_path / "in" / "l.csv").write_text("image,mask\nimage.nii.gz,mask.nii.gz\n")
    argv = train_on(tmp_path / "in" / "l.csv", tmp_path / "run", "--quiet", flag, value)
    refused(argv, f"argument {flag}: must be", tmp_path, capsys)


# ---------------------------------------------------------------- LOW: train csv paths


def test_train_csv_paths_are_relative_to_the_csv(c, tmp_path, capsys, monkeypatch):
    (tmp_path / "in" / "l.csv").write_text("image,mask\nimage.nii.gz,mask.nii.gz\n")
    monkeypatch.chdir(tmp_path)  # not the csv's folder
    assert read_pairs(tmp_path / "in" / "l.csv") == [
        (str(tmp_path / "in" / "image.nii.gz"), str(tmp_path / "in" / "mask.nii.gz"))
    ]
    (tmp_path / "in" / "old.csv").write_text("image,mask\nin/image.nii.gz,in/mask.nii.gz\n")  # the old rule
    argv = [
        "train",
        "--train-list",
        str(tmp_path / "in" / "old.csv"),
        "--val-list",
        str(tmp_path / "in" / "l.csv"),
        "--out",
        str(tmp_path / "run"),
        "--quiet",
    ]
    line = refused(argv, "relative paths in the list are relative to the csv's folder", tmp_path, capsys)
    assert "row 2, image in/image.nii.gz" in line and str(tmp_path / "in" / "image.nii.gz") in line

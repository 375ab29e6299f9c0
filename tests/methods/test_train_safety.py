"""Train and the subject lists: resume state, Ctrl-C, killed writers, csv messages."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest
from tests.helpers.safety import refused
from tests.helpers.safety import train_argv as shared_train_argv

import patch2loc.methods.patch2loc.train as train_mod
from patch2loc import cli
from patch2loc.cli.train import read_pairs
from patch2loc.files.io import save_volume
from patch2loc.files.staging import TEMP_MARK

SHAPE = (24, 24, 6)


@pytest.fixture()
def lists(tmp_path):
    """Three tiny subjects on disk, a train list (2) and a val list (1)."""
    rng = np.random.default_rng(0)
    x, y, _ = np.meshgrid(*[np.linspace(-1, 1, s) for s in SHAPE], indexing="ij")
    mask = (x**2 + y**2 < 0.8).astype(np.uint8)
    rows = []
    for i in range(3):
        d = tmp_path / "data" / f"sub{i}"
        save_volume((rng.random(SHAPE) + x + 2 * y).astype(np.float32) * mask, d / "image.nii.gz")
        save_volume(mask, d / "mask.nii.gz")
        rows.append(f"{d / 'image.nii.gz'},{d / 'mask.nii.gz'}")
    (tmp_path / "data" / "train.csv").write_text("image,mask\n" + "\n".join(rows[:2]) + "\n")
    (tmp_path / "data" / "val.csv").write_text("image,mask\n" + rows[2] + "\n")
    return tmp_path / "data"


def train_argv(data, out, *extra, train="train.csv", val="val.csv"):
    return shared_train_argv(data / train, data / val, out, *extra)


# ---------------------------------------------------------------- case 7: resume state, Ctrl-C, SIGKILL


def test_truncated_resume_state_names_the_fix(lists, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli.main(train_argv(lists, run)) == 0
    capsys.readouterr()
    last = run / "last.pt"
    last.write_bytes(last.read_bytes()[:1000])
    line = refused(
        train_argv(lists, run, "--steps", "4"), "last.pt: cannot be read as a resume state", tmp_path, capsys
    )
    assert line.startswith(f"patch2loc train: error: {last}: ") and "Delete it to start over" in line


def test_crafted_resume_state_is_refused_and_runs_nothing(lists, tmp_path, capsys):
    import torch

    witness = tmp_path / "created_by_pickle"

    class Payload:
        def __reduce__(self):
            return (open, (str(witness), "w"))

    (tmp_path / "run").mkdir()
    torch.save({"model": {}, "patch_size": 3, "rng": Payload()}, tmp_path / "run" / "last.pt")
    refused(train_argv(lists, tmp_path / "run"), "refused", tmp_path, capsys)
    assert not witness.exists()


def test_ctrl_c_is_one_line_and_resumable(lists, tmp_path, capsys, monkeypatch):
    real = train_mod.evaluate
    calls = {"n": 0}

    def interrupted_evaluate(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # at step 2, after step 1's checkpoint
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(train_mod, "evaluate", interrupted_evaluate)
    run = tmp_path / "run"
    assert cli.main(train_argv(lists, run)) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "interrupted" in err[0] and "resume" in err[0], err
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt", "loss.csv"]  # no temp files
    monkeypatch.setattr(train_mod, "evaluate", real)
    assert cli.main(train_argv(lists, run)) == 0


def test_temp_file_of_a_killed_writer_is_removed_on_the_next_run(lists, tmp_path):
    run = tmp_path / "run"
    killer = (
        "import os, signal, sys\nfrom patch2loc.files.staging import atomic_output\n"
        "with atomic_output(sys.argv[1]) as tmp:\n"
        "    tmp.write_bytes(b'x' * 100000)\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", killer, str(run / "last.pt")],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == -signal.SIGKILL
    stale = [p for p in run.iterdir() if TEMP_MARK in p.name]
    assert len(stale) == 1 and stale[0].stat().st_size == 100000  # what a killed writer leaves
    assert cli.main(train_argv(lists, run, "--steps", "1")) == 0
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt", "loss.csv"]


# ---------------------------------------------------------------- case 8: messages


def test_csv_with_a_byte_order_mark(lists):
    text = (lists / "train.csv").read_text()
    (lists / "bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert read_pairs(lists / "bom.csv") == read_pairs(lists / "train.csv")
    assert len(read_pairs(lists / "bom.csv")) == 2


def test_empty_mask_cell_names_the_row(lists, tmp_path, capsys):
    first = (lists / "train.csv").read_text().splitlines()[1].split(",")[0]
    (lists / "holes.csv").write_text(f"image,mask\n{first},\n")
    refused(
        train_argv(lists, tmp_path / "run", train="holes.csv"),
        "holes.csv: row 2 has an empty 'mask' cell",
        tmp_path,
        capsys,
    )


def test_validation_shape_error_says_validation(lists, tmp_path, capsys):
    d = lists / "small"
    save_volume(np.random.default_rng(1).random((24, 24, 4)).astype(np.float32), d / "image.nii.gz")
    save_volume(np.ones((24, 24, 4), np.uint8), d / "mask.nii.gz")
    (lists / "val_small.csv").write_text(f"image,mask\n{d / 'image.nii.gz'},{d / 'mask.nii.gz'}\n")
    line = refused(
        train_argv(lists, tmp_path / "run", val="val_small.csv"),
        "small/image.nii.gz: validation volume of shape (24, 24, 4)",
        tmp_path,
        capsys,
    )
    assert "training volumes (24, 24, 6)" in line and "other training" not in line


def test_patches_1_names_the_flag(lists, tmp_path, capsys):
    line = refused(train_argv(lists, tmp_path / "run", "--patches", "1"), "--patches", tmp_path, capsys)
    assert "patches_per_step" not in line and ">= 2" in line


def test_train_out_that_is_an_input(lists, tmp_path, capsys):
    refused(train_argv(lists, lists / "train.csv"), "existing file, not a folder", tmp_path, capsys)


# ---------------------------------------------------------------- case 9: file modes


def test_training_outputs_get_the_users_file_mode(lists, tmp_path):
    old = os.umask(0o002)
    try:
        assert cli.main(train_argv(lists, tmp_path / "run", "--steps", "1")) == 0
    finally:
        os.umask(old)
    for name in ("best.pt", "last.pt", "loss.csv"):
        assert stat.S_IMODE((tmp_path / "run" / name).stat().st_mode) == 0o664, name

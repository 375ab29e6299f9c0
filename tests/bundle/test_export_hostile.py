"""`patch2loc export` of a run whose files were crafted: a fold's method settings out of range (10^9 DDPM
timesteps, an AE seed of 2**80), and a threshold file or config that is huge, sparse or not a file. Export
holds a run to what predict holds a bundle to, before anything is written: one line, exit 2, --out absent.
Before, it wrote a bundle predict refuses (exit 0), and read a 1 GB sparse threshold file whole (1.7 GB)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from patch2loc.run.checkpoint import save_checkpoint
from patch2loc.run.layout import RunLayout
from tests.helpers.bundle import make_run
from tests.helpers.checkpoints import diffusion_checkpoint
from tests.helpers.hostile import refused_in_child
from tests.helpers.safety import make_case, refused


@pytest.fixture
def run(tmp_path):
    """A finished run with two DDPM folds and their thresholds (test_predict_diffusion's tiny models)."""
    run = make_run(tmp_path / "wf", make_case(tmp_path / "in"))
    layout = RunLayout(run)
    for k in (0, 1):
        diffusion_checkpoint(Path(layout.checkpoint("T1", k, "DDPM")), "DDPM", seed=k)
        threshold = Path(layout.threshold("DDPM", "T1", f"fold{k}"))
        threshold.parent.mkdir(parents=True, exist_ok=True)
        threshold.write_text(json.dumps({"threshold": 0.5}))
    return run


def _argv(run: Path, out: Path) -> list[str]:
    return ["export", str(run), "--modality", "T1", "--method", "DDPM", "--out", str(out), "--quiet"]


def _edit_fold(run: Path, **config) -> Path:
    path = Path(RunLayout(run).checkpoint("T1", 0, "DDPM"))
    ckpt = torch.load(path, weights_only=True)
    ckpt["config"].update(config)
    save_checkpoint(path, ckpt)
    return path


def test_the_control_exports(run, tmp_path):
    from patch2loc import cli

    assert cli.main(_argv(run, tmp_path / "good.zip")) == 0


@pytest.mark.parametrize(
    "config, says",
    [
        ({"timesteps": 10**9}, "config.timesteps 1000000000 must be a whole number from 2 to 100000"),
        ({"width": 4096}, "config.width 4096 must be a whole number from 1 to 1024"),
        ({"rescale": 1000}, "config.rescale 1000 must be one of [1, 2, 4]"),
        ({"width": 16}, "its weights or settings do not fit the network"),  # in range, but not these weights
    ],
)
def test_a_fold_whose_settings_predict_refuses_is_not_exported(run, tmp_path, capsys, config, says):
    fold = _edit_fold(run, **config)
    line = refused(_argv(run, tmp_path / "out" / "b.zip"), says, tmp_path, capsys)
    assert str(fold) in line


@pytest.mark.parametrize("kind", ["sparse", "fifo", "folder"])
def test_a_huge_or_special_threshold_file_is_refused_unread(run, tmp_path, kind):
    """A 1 GB sparse threshold file: refused from its size in a child process whose peak memory stays
    within the ceilings of tests/helpers/hostile.py (before: read whole, 1.7 GB)."""
    threshold = Path(RunLayout(run).threshold("DDPM", "T1", "fold1"))
    threshold.unlink()
    if kind == "sparse":
        with open(threshold, "wb") as f:
            f.write(b'{"threshold": 0.5')
            f.truncate(1 << 30)
        needle = "1,073,741,824 bytes"
    elif kind == "fifo":
        os.mkfifo(threshold)
        needle = "not a regular file"
    else:
        threshold.mkdir()
        needle = "not a regular file"
    watched = tmp_path / "watched"  # the run holds the FIFO, which a snapshot would open: --out's folder is watched
    watched.mkdir()
    line, _ = refused_in_child(_argv(run, watched / "b.zip"), needle, watched)
    assert "fold1" in line and not (watched / "b.zip").exists()


def test_a_huge_run_config_is_refused_unread(run, tmp_path):
    """A 1 GB sparse config.resolved.yaml: refused from its size, in a child within the memory ceilings
    (before: read whole, then refused by the parser's 1 MB bound)."""
    config = Path(RunLayout(run).config)
    with open(config, "ab") as f:
        f.truncate(1 << 30)
    watched = tmp_path / "watched"  # the run's 1 GB file is not read by the snapshot either
    watched.mkdir()
    refused_in_child(_argv(run, watched / "b.zip"), "1,073,741,824 bytes", watched)

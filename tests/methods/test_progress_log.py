"""Progress where no terminal is attached (a Snakemake or SLURM log): plain lines, one per validation."""

from __future__ import annotations

import io
import json

import numpy as np

from patch2loc.methods.patch2loc.train import TrainConfig, train
from patch2loc.training.progress import LineProgress


def test_line_progress_writes_lines_with_rate_and_eta():
    out = io.StringIO()
    bar = LineProgress(total=10, desc="train X", every=5, file=out)
    for step in range(1, 11):
        bar.update(1)
        if step % 4 == 0:
            bar.set_postfix({"train_loss": 1.0 / step, "val_loss": 2.0 / step})
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert [line.split(" (")[0] for line in lines] == [f"train X: step {n}/10" for n in (4, 5, 8)]
    assert [line for line in lines if "val_loss=" in line] == [lines[0], lines[2]]  # the validations only
    assert all("step/s, ETA" in line for line in lines)


def test_training_log_has_one_val_loss_line_per_validation(capfd, tmp_path):
    """What `grep val_loss logs/train/*.log` shows: one line per validation, no carriage returns."""
    rng = np.random.default_rng(0)
    shape = (24, 24, 6)
    x, y, _ = np.meshgrid(*[np.linspace(-1, 1, s) for s in shape], indexing="ij")
    masks = np.broadcast_to(x**2 + y**2 < 0.8, (3, *shape)).copy()
    images = (rng.random((3, *shape)) + x + 2 * y).astype(np.float32)
    cfg = TrainConfig(steps=6, patches_per_step=8, val_every=2, val_batches=1, device="cpu", seed=3, num_threads=1)
    summary = train(images[:2], masks[:2], images[2:], masks[2:], cfg, tmp_path, progress=True)
    err = capfd.readouterr().err  # pytest's stderr is not a terminal: the log's form
    assert "\r" not in err
    val_lines = [line for line in err.splitlines() if "val_loss=" in line]
    assert len(val_lines) == 3  # steps 2, 4, 6
    assert [line.split(" step ")[1].split(" ")[0] for line in val_lines] == ["2/6", "4/6", "6/6"]
    json.dumps(summary, default=str)  # the summary the training script prints as JSON

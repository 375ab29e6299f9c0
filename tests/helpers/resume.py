"""A training stopped by Ctrl-C and run again, beside the same training uninterrupted: the
trainers' resume tests compare the two runs' last.pt."""

from __future__ import annotations

import pytest
import torch


def interrupted_and_resumed(task, run, monkeypatch, stop_at: int = 3) -> tuple[dict, dict]:
    """(last.pt of `run("a")`, last.pt of `run("b")` after a first `run("b")` was stopped at step
    `stop_at` by a KeyboardInterrupt in `task.train_step`). `run(folder)` trains and returns best.pt."""
    straight = torch.load(run("a").with_name("last.pt"), weights_only=True)
    step = task.train_step

    def stop(self, n):
        if n == stop_at:
            raise KeyboardInterrupt
        return step(self, n)

    monkeypatch.setattr(task, "train_step", stop)
    with pytest.raises(KeyboardInterrupt):
        run("b")
    monkeypatch.setattr(task, "train_step", step)
    return straight, torch.load(run("b").with_name("last.pt"), weights_only=True)


def assert_same_weights(resumed: dict, straight: dict) -> None:
    """Every weight of the two checkpoints bit for bit, and the same last step."""
    assert resumed["step"] == straight["step"]
    for key, value in straight["model"].items():
        torch.testing.assert_close(resumed["model"][key], value, rtol=0, atol=0)

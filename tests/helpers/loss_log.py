"""A tiny training's loss.csv, checked for its rows and columns (the trainers' tests)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def loss_log(folder: Path, steps: list[int], columns: list[str]) -> pd.DataFrame:
    """`folder`/loss.csv, asserted to hold a row at each of `steps` (the validations) and exactly `columns`."""
    loss = pd.read_csv(folder / "loss.csv")
    assert loss["step"].tolist() == steps and list(loss.columns) == columns
    return loss

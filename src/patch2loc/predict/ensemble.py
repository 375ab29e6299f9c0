"""Fold ensemble: every fold's model of one method of a run or a bundle, scored through the core.

How the folds' maps are combined is the scoring core's (`patch2loc.scoring.score_scan`, the
workflow's too): the mean of their raw maps, post-processed once, the same for every method. The
run's unsupervised threshold is per method and fold (98th percentile of healthy IXI test scores);
the ensemble uses the mean of the folds' thresholds (`scoring.mean_threshold`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patch2loc.errors import InputError
from patch2loc.run.chainfiles import read_threshold
from patch2loc.run.layout import RunLayout
from patch2loc.scoring import ScanSettings, ScoredScan, score_scan


@dataclass
class Member:
    checkpoint: Path
    model: object
    ckpt: dict
    threshold: float | None  # the fold's unsupervised threshold, when the run computed it


def fold_checkpoints(run: Path, modality: str, folds: list[int] | None, method: str) -> list[Path]:
    """The run's best.pt of the method's every fold (or the requested ones), where patch2loc.run.layout
    puts them."""
    layout = RunLayout(run)
    found = layout.fold_checkpoints(modality, method)
    root = Path(layout.model_dir(method, modality, 0)).parent
    if folds:
        missing = [k for k in folds if k not in found]
        if missing:
            raise InputError(
                f"{root}: no best.pt for fold(s) {missing} (found folds {sorted(found)}). "
                "Pass folds the run trained (--folds)."
            )
        found = {k: found[k] for k in folds}
    if not found:
        raise InputError(
            f"{root}: no fold*/best.pt. Train the run's {method} {modality} models first, or pass --checkpoint."
        )
    return [found[k] for k in sorted(found)]


def fold_threshold(run: Path | None, modality: str | None, checkpoint: Path, method: str) -> float | None:
    """The unsupervised threshold the workflow computed for the method's model of this checkpoint's
    fold, if any."""
    if run is None or not re.fullmatch(r"fold\d+", checkpoint.parent.name):
        return None
    path = Path(RunLayout(run).threshold(method, str(modality), checkpoint.parent.name))
    if not path.is_file():
        return None

    return read_threshold(path, "Re-run the workflow's score_healthy rule, or pass --threshold.")


def bundle_folds(bundle, folds: list[int] | None) -> list:
    """The bundle's folds (bundle.reader.Fold), or the requested ones."""
    if not folds:
        return bundle.folds
    have = {f.fold: f for f in bundle.folds}
    missing = [k for k in folds if k not in have]
    if missing:
        raise InputError(
            f"{bundle.source}: the bundle has no fold(s) {missing} (it holds folds {sorted(have)}). "
            "Pass folds it holds (--folds), or none."
        )
    return [have[k] for k in folds]


def ensemble_score(
    members: list[Member], image: np.ndarray, mask: np.ndarray, settings: ScanSettings, method: str
) -> ScoredScan:
    """The members' map of one scan (scoring.score_scan)."""
    return score_scan(method, [m.model for m in members], image, mask, settings)

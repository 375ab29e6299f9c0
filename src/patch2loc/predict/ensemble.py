"""Fold ensemble: every fold's model of one method of a run, scores averaged, thresholds averaged.

How scores are combined, the same for every method (Patch2Loc, the DAE): the raw score maps
(before the median filter: Patch2Loc's log error + log variance, the DAE's reconstruction error)
of the folds are averaged voxel by voxel, and the average is post-processed once. The folds'
scores are on one scale (the same loss, the same preprocessing), so the mean is an ensemble
model's score; the median filter and mask then act on it exactly as on one model's, and an
ensemble of identical checkpoints gives exactly the single checkpoint's heatmap. The run's
unsupervised threshold is per method and fold (98th percentile of healthy IXI test scores); the
ensemble uses the mean of the folds' thresholds, an approximation of the ensemble's own
percentile (not recomputed here: that needs the healthy scans).
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patch2loc.errors import InputError
from patch2loc.layout import RunLayout


@dataclass
class Member:
    checkpoint: Path
    model: object
    ckpt: dict
    threshold: float | None  # the fold's unsupervised threshold, when the run computed it


def fold_checkpoints(run: Path, modality: str, folds: list[int] | None, method: str = "Patch2Loc") -> list[Path]:
    """The run's best.pt of the method's every fold (or the requested ones), where patch2loc.layout
    puts them."""
    layout = RunLayout(run)
    found = layout.fold_checkpoints(modality, method)
    root = Path(layout.model_dir(method, modality, 0)).parent
    if folds:
        missing = [k for k in folds if k not in found]
        if missing:
            raise InputError(f"{root}: no best.pt for fold(s) {missing} (found folds {sorted(found)}). "
                             "Pass folds the run trained (--folds).")
        found = {k: found[k] for k in folds}
    if not found:
        raise InputError(f"{root}: no fold*/best.pt. Train the run's {method} {modality} models first, or pass "
                         "--checkpoint.")
    return [found[k] for k in sorted(found)]


def fold_threshold(run: Path | None, modality: str | None, checkpoint: Path,
                   method: str = "Patch2Loc") -> float | None:
    """The unsupervised threshold the workflow computed for the method's model of this checkpoint's
    fold, if any."""
    if run is None or not re.fullmatch(r"fold\d+", checkpoint.parent.name):
        return None
    path = Path(RunLayout(run).threshold(method, str(modality), checkpoint.parent.name))
    if not path.is_file():
        return None
    from patch2loc.chainfiles import read_threshold

    return read_threshold(path, "Re-run the workflow's score_healthy rule, or pass --threshold.")


def bundle_folds(bundle, folds: list[int] | None) -> list:
    """The bundle's folds (bundle.reader.Fold), or the requested ones."""
    if not folds:
        return bundle.folds
    have = {f.fold: f for f in bundle.folds}
    missing = [k for k in folds if k not in have]
    if missing:
        raise InputError(f"{bundle.source}: the bundle has no fold(s) {missing} (it holds folds {sorted(have)}). "
                         "Pass folds it holds (--folds), or none.")
    return [have[k] for k in folds]


def run_threshold(thresholds: list[float | None]) -> float | None:
    """The mean of the folds' thresholds, when every fold has one."""
    values = [t for t in thresholds if t is not None]
    return float(np.mean(values)) if values and len(values) == len(thresholds) else None


def ensemble_threshold(members: list[Member]) -> float | None:
    return run_threshold([m.threshold for m in members])


def member_score(method: str, model, image: np.ndarray, mask: np.ndarray, score_kwargs: dict):
    """One model's raw map: (score, patches scored or None, seconds). Patch2Loc through its dense
    scorer (predict's progress bar, stride and patch batches: predict.models.score_settings), any
    other method through its registry module's score(model, image, mask, cfg)."""
    if method == "Patch2Loc":
        from patch2loc.methods.patch2loc.heatmap import score_volume

        res = score_volume(model, image, mask, **score_kwargs)
        return res.score, res.n_patches, res.seconds
    from patch2loc.methods import implementation

    start = time.perf_counter()
    raw = implementation(method).score(model, image, mask, score_kwargs["cfg"])["score"]
    return raw, None, time.perf_counter() - start


def ensemble_score(members: list[Member], image: np.ndarray, mask: np.ndarray, score_kwargs: dict,
                   method: str = "Patch2Loc"):
    """Mean raw score of the members (see the module doc); returns (score, n_patches, seconds),
    n_patches None for a method that scores no patches."""
    total, patches, seconds = None, 0, 0.0
    for member in members:
        score, n, s = member_score(method, member.model, image, mask, score_kwargs)
        total = score.astype(np.float64) if total is None else total + score
        patches = None if n is None or patches is None else patches + n
        seconds += s
    return (total / len(members)).astype(np.float32), patches, seconds

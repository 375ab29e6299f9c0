"""Fold ensemble: every fold's model of a run, scores averaged, thresholds averaged.

How scores are combined: the raw score maps (log error + log variance, before the median filter)
of the folds are averaged voxel by voxel, and the average is post-processed once. The folds'
scores are on one scale (the same loss, the same preprocessing), so the mean is an ensemble
model's score; the median filter and mask then act on it exactly as on one model's, and an
ensemble of identical checkpoints gives exactly the single checkpoint's heatmap. The run's
unsupervised threshold is per fold (98th percentile of healthy IXI test scores); the ensemble
uses the mean of the folds' thresholds, an approximation of the ensemble's own percentile (not
recomputed here: that needs the healthy scans).
"""
from __future__ import annotations

import json
import re
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


def fold_checkpoints(run: Path, modality: str, folds: list[int] | None) -> list[Path]:
    """The run's best.pt of every fold (or the requested ones), where patch2loc.layout puts them."""
    found = RunLayout(run).fold_checkpoints(modality)
    root = run / "models" / modality
    if folds:
        missing = [k for k in folds if k not in found]
        if missing:
            raise InputError(f"{root}: no best.pt for fold(s) {missing} (found folds {sorted(found)}). "
                             "Pass folds the run trained (--folds).")
        found = {k: found[k] for k in folds}
    if not found:
        raise InputError(f"{root}: no fold*/best.pt. Train the run's {modality} models first, or pass --checkpoint.")
    return [found[k] for k in sorted(found)]


def fold_threshold(run: Path | None, modality: str | None, checkpoint: Path) -> float | None:
    """The unsupervised threshold the workflow computed for this checkpoint's fold, if any."""
    if run is None or not re.fullmatch(r"fold\d+", checkpoint.parent.name):
        return None
    path = Path(RunLayout(run).threshold("Patch2Loc", str(modality), checkpoint.parent.name))
    if not path.is_file():
        return None
    try:
        return float(json.loads(path.read_text(encoding="utf-8"))["threshold"])
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{path}: not a threshold file (needs {{\"threshold\": number}}). Re-run the "
                         "workflow's score_healthy rule, or pass --threshold.") from None


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


def ensemble_threshold(members: list[Member]) -> float | None:
    values = [m.threshold for m in members if m.threshold is not None]
    return float(np.mean(values)) if values and len(values) == len(members) else None


def ensemble_score(members: list[Member], image: np.ndarray, mask: np.ndarray, score_kwargs: dict):
    """Mean raw score of the members (see the module doc); returns (score, n_patches, seconds)."""
    from patch2loc.methods.patch2loc.heatmap import score_volume

    total, patches, seconds = None, 0, 0.0
    for member in members:
        res = score_volume(member.model, image, mask, **score_kwargs)
        total = res.score.astype(np.float64) if total is None else total + res.score
        patches += res.n_patches
        seconds += res.seconds
    return (total / len(members)).astype(np.float32), patches, seconds

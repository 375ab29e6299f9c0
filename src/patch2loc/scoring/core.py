"""Score one scan with a method's model(s): the raw maps averaged over the models, post-processed.

Every front end scores through `score_scan`: the workflow's scoring rules with one model (a fold,
or none for a method that trains nothing) and `patch2loc predict` with one or more (the folds of a
run or a bundle). How folds are combined is the same for every method: the raw maps (before the
median filter: Patch2Loc's log error + log variance, the DAE's reconstruction error, ...) are
averaged voxel by voxel in float64, and the mean is post-processed once. The folds' scores are on
one scale (the same loss, the same preprocessing), so the mean is an ensemble model's score; the
median filter and mask then act on it exactly as on one model's, and one model (or several
identical ones) gives exactly that model's map.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from patch2loc.scoring.median import filter_device, side_stream
from patch2loc.scoring.postprocess import postprocess
from patch2loc.registry import implementation


@dataclass(frozen=True)
class ScanSettings:
    """How a scan is scored: the core's own settings and, opaque to it, the method's options."""

    median_size: int = 7  # the median filter's side (1: the brain mask only)
    postprocess: bool = True  # False: the mean raw map as it is (predict --no-postprocess)
    device: str | None = None  # a device name (None: auto), patch2loc.checks.devices
    # The method's own scoring options (the workflow: config `heatmap:`; predict: its flags); its
    # module reads the ones it knows (Patch2Loc: stride, batch_size, amp, centres) and ignores the rest.
    options: Mapping[str, object] = field(default_factory=dict)
    patch_maps: bool = False  # also return the maps the patch statistics read (Patch2Loc's terms)
    progress: bool = False  # a progress bar while a model scores


@dataclass
class ScoredScan:
    score: np.ndarray  # float32 [X, Y, Z]: the mean raw score, post-processed (unless settings say not)
    raw: dict[str, np.ndarray]  # the mean raw maps: "score", and the method's others (patch statistics)
    patches: int | None = None  # patches the models ran (methods that score patches), else None
    seconds: float = 0.0  # time the models took


def score_scan(method: str, models: list, volume: np.ndarray, mask: np.ndarray, settings: ScanSettings) -> ScoredScan:
    """The anomaly map of one normalised volume (and its brain mask) with `method`'s models
    (`[None]` for a method without a model), see the module doc."""
    return finish_scan(score_raw(method, models, volume, mask, settings), mask, settings)


def score_raw(method: str, models: list, volume: np.ndarray, mask: np.ndarray, settings: ScanSettings) -> ScoredScan:
    """`score_scan` before its post-processing (score: the mean raw map): the models' part, which a
    scoring job runs on its device while `finish_scan` filters the volume before."""
    if not models:
        raise ValueError(f"{method}: no model to score with")
    score = implementation(method).score
    runs, seconds = [], 0.0
    for model in models:
        start = time.perf_counter()
        runs.append(dict(score(model, volume, mask, settings)))
        seconds += time.perf_counter() - start
    counts = [run.pop("patches", None) for run in runs]
    raw = runs[0] if len(runs) == 1 else _mean_maps(runs)
    patches = None if None in counts else int(sum(counts))
    return ScoredScan(raw["score"], raw, patches, seconds)


def finish_scan(scored: ScoredScan, mask: np.ndarray, settings: ScanSettings) -> ScoredScan:
    """The post-processing of `score_raw`'s map (unless settings say not); on a GPU on a stream of
    its own, so that it runs beside the next volume's network."""
    if not settings.postprocess:
        return scored
    device = filter_device(settings.device)
    with np.errstate(invalid="ignore", over="ignore"), side_stream(device):  # an overflow shows as a non-finite value
        final = postprocess(scored.score, mask, settings.median_size, device)
    return ScoredScan(final, scored.raw, scored.patches, scored.seconds)


def _mean_maps(runs: list[dict]) -> dict[str, np.ndarray]:
    """Voxel-wise mean (summed in float64, returned as float32) of the maps every run has."""
    keys = [k for k in runs[0] if all(k in run for run in runs)]
    mean = {}
    for key in keys:
        total = None
        for run in runs:
            total = run[key].astype(np.float64) if total is None else total + run[key]
        mean[key] = (total / len(runs)).astype(np.float32)
    return mean

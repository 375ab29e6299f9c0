"""Evaluation protocols as data (config `evaluate.protocol`, docs/protocols.md).

A `Protocol` names, element by element, how a raw anomaly map becomes the numbers in a table:
which brain mask (as it is, eroded per slice, eroded by an average pool), which median filter
(3D or per slice, its side), which voxels count (in the mask or the whole volume), how AUPRC is
taken (per volume or pooled over the set), how the Dice threshold is chosen (per volume, exact;
best over a grid; tuned on labelled validation volumes) and the component filter after it.
`SHARED` is the Patch2Loc authors' protocol, applied to every method; a method's module carries
`REFERENCE_PROTOCOL`, its own authors' one (None without one). This module applies whichever it is given, never
asking which method it scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from patch2loc.scoring.metrics import auprc, best_dice
from patch2loc.scoring import steps
from patch2loc.scoring.tuning import code_histogram
from patch2loc.registry import implementation

DICE_MODES = ("oracle", "grid", "validation")
NO_VALIDATION = "no validation split"  # why a validation-tuned Dice is NaN (splits/ has no labelled val set)


@dataclass(frozen=True, kw_only=True)
class Protocol:
    source: str  # the harness it follows (repository), for the docs and tables
    erosion: str = "none"  # none | slices (binary, 4-connected, per axial slice) | avgpool (5 x 5 mean > level)
    erosion_iterations: int = 0  # slices: iterations (on a grid of unknown spacing when erosion_mm is set)
    # slices: the erosion's depth in mm where the reference eroded a fixed number of pixels of its own
    # grid; `at_spacing` turns it into iterations of the scored grid (0: erosion_iterations everywhere)
    erosion_mm: float = 0.0
    mask_first: bool = False  # True: mask, then median (the references); False: median, then mask (shared)
    median_size: int = 7  # side of the median filter (1: none)
    median_dims: int = 3  # 3: a cube; 2: within each axial slice
    region: str = "brain"  # the voxels the metrics count: brain (the protocol's mask) | volume
    auprc: str = "per_volume"  # per_volume | pooled (one curve over the set's voxels)
    dice: str = "oracle"  # oracle: exact best per volume | grid: best of `dice_thresholds` | validation
    dice_thresholds: int = 0  # grid: how many evenly spaced thresholds in [0, max score)
    dice_pooled: bool = False  # the reference counts Dice over the set's voxels (here per volume; the tables say so)
    component_max: int = 0  # after thresholding, drop components of at most this many voxels (0: none)
    connectivity: int = 26
    # Elements that change the model's inputs (not reproduced: they need models of their own)
    not_reproduced: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if self.erosion not in ("none", "slices", "avgpool"):
            raise ValueError(f"Protocol.erosion: {self.erosion!r}")
        if self.dice not in DICE_MODES or self.auprc not in ("per_volume", "pooled"):
            raise ValueError(f"Protocol.dice/auprc: {self.dice!r}, {self.auprc!r}")
        if self.dice == "grid" and self.dice_thresholds < 1:
            raise ValueError("Protocol: dice 'grid' needs dice_thresholds >= 1")


# The Patch2Loc authors' protocol, today's behaviour (scoring.postprocess, scoring.metrics).
SHARED = Protocol(source="Patch2Loc (Baker and Brockmeier 2026)")


def reference(**fields) -> Protocol:
    """A method's authors' protocol: as every reference harness here does, the map is masked before
    any filter and the metrics count every voxel of the volume; `fields` state the rest."""
    return Protocol(**{"mask_first": True, "region": "volume", **fields})


def unfiltered(**fields) -> Protocol:
    """An authors' protocol that uses the map as the model gives it: no erosion, no median filter."""
    return reference(**{"median_size": 1, "median_dims": 2, **fields})


def with_median(protocol: Protocol, size: int) -> Protocol:
    """The protocol with the workflow's own median side (config heatmap.median_size)."""
    from dataclasses import replace

    return replace(protocol, median_size=int(size))


def brain(mask: np.ndarray, protocol: Protocol) -> np.ndarray:
    """The protocol's brain mask: the mask as it is, or eroded."""
    if protocol.erosion == "slices":
        return steps.erode_slices(mask, protocol.erosion_iterations)
    if protocol.erosion == "avgpool":
        return steps.erode_avgpool(mask)
    return np.asarray(mask) > 0


def final_map(raw: np.ndarray, mask: np.ndarray, protocol: Protocol) -> np.ndarray:
    """The post-processed map. Shared: median filter, then zero outside the mask (with SHARED this
    is scoring.postprocess exactly). mask_first: zero outside the (eroded) mask, then the median,
    as utils_eval.py L58-64, Evaluation.py L286 and L311, src/denoising.py L53-55 do."""
    keep = brain(mask, protocol)
    if protocol.mask_first:
        return steps.median(np.asarray(raw, np.float32) * keep, protocol.median_size, protocol.median_dims)
    filtered = steps.median(raw, protocol.median_size, protocol.median_dims)
    return (filtered * keep).astype(np.float32)


def region(mask: np.ndarray, protocol: Protocol) -> np.ndarray | None:
    """The voxels the metrics count: the protocol's mask, or None for the whole volume."""
    return brain(mask, protocol) if protocol.region == "brain" else None


def volume_metrics(score: np.ndarray, truth: np.ndarray, mask: np.ndarray, protocol: Protocol) -> dict:
    """One volume's AUPRC and Dice under the protocol (the per-volume part of it): AUPRC in the
    protocol's region; Dice per `protocol.dice` (validation: NaN here, see `set_dice`)."""
    keep = region(mask, protocol)
    value = auprc(score, truth, keep)
    if protocol.dice == "validation":
        return {"auprc": value, "dice": float("nan"), "threshold": float("nan")}
    if protocol.dice == "oracle":
        _, t = best_dice(score, truth, keep)
        strict = False  # the shared protocol: lesion where score >= t
    else:
        top = float(np.max(score)) if np.size(score) else 0.0
        top = top if top > 0 else 1.0  # the reference's [0, 1) where the map has no positive score
        _, t = steps.best_dice_over([score], [truth], steps.threshold_grid(protocol.dice_thresholds, top), [keep])
        strict = True  # the references: lesion where score > t
    if not np.isfinite(t):
        return {"auprc": value, "dice": float("nan"), "threshold": t}
    inside = np.ones(np.shape(score), bool) if keep is None else keep
    pred = ((score > t) if strict else (score >= t)) & inside
    pred = steps.remove_components(pred, protocol.component_max, protocol.connectivity)
    return {"auprc": value, "dice": steps.dice(pred, (np.asarray(truth) > 0) & inside), "threshold": t}


def set_dice(val: tuple[list, list, list], test: tuple[list, list, list], protocol: Protocol) -> np.ndarray:
    """Per test volume, the Dice at the threshold tuned on labelled validation volumes, after the
    protocol's component filter. `val`, `test`: (maps, labels, masks) of each set."""
    maps, labels, masks = val
    keeps = [region(m, protocol) for m in masks]
    t = steps.tune_threshold(maps, labels, keeps)
    tmaps, tlabels, tmasks = test
    tkeeps = [region(m, protocol) for m in tmasks]
    return steps.dice_at_tuned(tmaps, tlabels, t, tkeeps, protocol.component_max, protocol.connectivity)


def at_spacing(protocol: Protocol, spacing_mm: float | None) -> Protocol:
    """The protocol with an erosion given in mm as iterations of a grid of this in-plane spacing
    (rounded, at least 1): Baur's 12 pixels of a 128-pixel slice are 22.5 mm, 8 voxels at 3 mm, not 12."""
    if not protocol.erosion_mm or not spacing_mm:
        return protocol
    return replace(protocol, erosion_iterations=max(1, round(protocol.erosion_mm / spacing_mm)))


def in_plane_spacing(affine: np.ndarray) -> float:
    """Mean voxel size (mm) of the first two axes, the axial slice's, from a NIfTI affine."""
    return float(np.mean(np.linalg.norm(np.asarray(affine, float)[:3, :2], axis=0)))


def reference_of(method: str) -> Protocol | None:
    """The protocol a method's module declares as its authors' (REFERENCE_PROTOCOL), or None."""
    return implementation(method).REFERENCE_PROTOCOL


REFERENCE_COLUMNS = ("ref_auprc", "ref_dice", "ref_threshold", "ref_auprc_mode", "ref_dice_mode", "ref_source")


def reference_columns(
    method: str,
    raw: np.ndarray,
    truth: np.ndarray,
    mask: np.ndarray,
    pooled: list | None = None,
    tuning_entry: dict | None = None,
    spacing_mm: float | None = None,
) -> dict:
    """One lesion volume's ref_* columns: AUPRC and Dice of the raw map under the method's reference
    protocol (NaN where it has none; Dice NaN where the protocol tunes it on a labelled validation
    split, which no lesion set has yet: ref_dice_mode says so). `pooled`: where the protocol pools
    AUPRC over the set, the volume's score histogram is appended to it (steps.score_histogram);
    `tuning_entry`: where the protocol tunes its Dice threshold on validation volumes, the volume's code
    histogram is put in it under "ref" (evaluation/dataset/tuned_dice.py fills ref_dice when shards merge).
    `spacing_mm`: the grid's in-plane voxel size, for a protocol whose erosion is in mm (`at_spacing`)."""
    protocol = reference_of(method)
    if protocol is None:
        nan = float("nan")
        return dict(zip(REFERENCE_COLUMNS, (nan, nan, nan, "none", "no reference protocol", "none")))
    protocol = at_spacing(protocol, spacing_mm)
    score = final_map(raw, mask, protocol)
    m = volume_metrics(score, truth, mask, protocol)
    if pooled is not None and protocol.auprc == "pooled":  # the set's curve is summed from these
        pooled.append(steps.score_histogram(score, truth, region(mask, protocol)))
    if tuning_entry is not None and protocol.dice == "validation":
        tuning_entry["ref"] = code_histogram(score, truth, region(mask, protocol))
    return dict(
        zip(
            REFERENCE_COLUMNS,
            (m["auprc"], m["dice"], m["threshold"], protocol.auprc, _dice_mode(protocol), protocol.source),
        )
    )


def _dice_mode(protocol: Protocol) -> str:
    """How ref_dice was taken, in words (the protocols table's column)."""
    if protocol.dice == "validation":
        return NO_VALIDATION
    how = (
        "best per volume" if protocol.dice == "oracle" else f"best of {protocol.dice_thresholds} thresholds per volume"
    )
    if protocol.component_max:
        how += f", components <= {protocol.component_max} voxels removed"
    return how + (" (reference pools)" if protocol.dice_pooled else "")

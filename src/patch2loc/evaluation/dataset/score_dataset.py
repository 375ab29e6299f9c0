"""Score one dataset with one method: anomaly maps -> per-volume metrics + patch statistics.

Used by the workflow's scoring rules, the same way for every method of the registry (`patch2loc.registry`): the
scoring core (`patch2loc.scoring.score_scan`, also predict's) turns a normalised volume into the
method's post-processed anomaly map; the threshold and metrics apply here. The maps of a volume
live only while it is scored: per-volume metrics (voxel-wise, and lesion-wise at the unsupervised
threshold), one row per ground-truth lesion and non-overlapping patch statistics are collected on
the way, and only the first `keep_heatmaps` heatmaps are written to disk (for figures and for the
user).

Where the lesion metrics are computed is `evaluate.space` (docs/evaluation.md, "Native and atlas
space"): `native` (the default) on each scan's own grid (evaluation/dataset/scan_grid.py), `atlas` on the
atlas grid. The healthy threshold is always taken in atlas space (see score_healthy); the patch
statistics (Table 2) describe the model's own patches, so they stay on the atlas grid too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from patch2loc.evaluation.lesionwise.rule import LESION_COLUMNS, LesionRule
from patch2loc.evaluation.dataset.grading import Collected, grade_volume
from patch2loc.evaluation.dataset.pipeline import DEPTH, pipelined
from patch2loc.evaluation.dataset.scan_grid import NativeFiles
from patch2loc.evaluation.dataset.volume_scores import volume_columns
from patch2loc.files.io import Volume, save_volume
from patch2loc.preprocessing.stack import load_any_case
from patch2loc.scoring import ScanSettings, ScoredScan, score_scan, unsupervised_threshold
from patch2loc.scoring.core import finish_scan, score_raw


# The `heatmap:` keys the core reads itself (and the rule's threads); the others are the methods' own options.
CORE_KEYS = ("median_size", "threads")


@dataclass
class ScoringConfig:
    """The workflow's `heatmap` and `evaluate` config sections: how a dataset is scored, then evaluated."""

    median_size: int = 7
    options: dict = field(default_factory=dict)  # the methods' scoring options (Patch2Loc: stride, amp, ...)
    region: str = "brain"  # which voxels the metrics count: brain | volume
    unsupervised_quantile: float = 0.98
    keep_heatmaps: int = 2  # -1 keeps every heatmap
    device: str | None = None
    patch_size: int | None = None  # patch-statistics grid (None: 1/8 of the slice side; Patch2Loc: its own)
    patch_stride: int | None = None  # evaluate.patches.stride: pixels between patch centres (None: non-overlapping)
    lesion_rule: LesionRule = field(default_factory=LesionRule)  # evaluate.lesionwise
    # evaluate.space: the workflow's default is native (config/schema.yaml); a direct caller's
    # Scan holds atlas-space files unless it gives `native` ones, hence atlas here.
    space: str = "atlas"
    wmh_other_pathology: bool = True  # preprocess.wmh_other_pathology: WMH label 2 counts as lesion
    protocol: str = "shared"  # evaluate.protocol: reference adds each method's own protocol's columns (ref_*)
    prefetch: int = DEPTH  # volumes read ahead, and scored ones waiting for grading (pipeline.py)
    graders: int = 1  # threads grading scored volumes beside the scoring

    @classmethod
    def from_workflow(
        cls,
        heatmap: dict,
        evaluate: dict,
        patch_size: int | None = None,
        device: str | None = None,
        preprocess: dict | None = None,
    ) -> "ScoringConfig":
        return cls(
            median_size=heatmap["median_size"],
            options={k: v for k, v in heatmap.items() if k not in CORE_KEYS},
            region=evaluate["region"],
            unsupervised_quantile=evaluate["unsupervised_quantile"],
            keep_heatmaps=evaluate["keep_heatmaps"],
            device=device,
            patch_size=patch_size,
            lesion_rule=LesionRule.from_config(evaluate.get("lesionwise")),
            space=evaluate.get("space", "native"),
            wmh_other_pathology=(preprocess or {}).get("wmh_other_pathology", True),
            protocol=evaluate.get("protocol", "shared"),
            patch_stride=(evaluate.get("patches") or {}).get("stride"),
            # the rule's threads: one reads, one drives the scoring, the rest grade
            graders=max(1, int(heatmap.get("threads", 1)) - 2),
        )

    @property
    def scan(self) -> ScanSettings:
        """What the core needs to score one volume (with the maps of the patch statistics)."""
        return ScanSettings(median_size=self.median_size, device=self.device, options=self.options, patch_maps=True)


@dataclass
class Scan:
    subject: str
    image: str
    mask: str
    seg: str | None = None
    native: NativeFiles | None = None  # evaluate.space native: the raw scan and labels, native mask, transform


def score_case(method: str, image: np.ndarray, mask: np.ndarray, cfg: ScoringConfig, model=None) -> ScoredScan:
    """The post-processed anomaly map of one volume (and the raw maps it came from): the core's,
    with the one model of a fold (None: a method without a model)."""
    return score_scan(method, [model], image, mask, cfg.scan)


def _grid(case) -> Volume:
    """The 3-D volume whose grid a map is written on (a stack's header has a 4th axis)."""
    image = case.image
    return image if image.data.ndim == 3 else Volume(image.data[0], image.affine, None, image.path)


def _keep(i: int, cfg: ScoringConfig) -> bool:
    """Whether the i-th volume of the dataset (0-based, counted over all shards) keeps its heatmap."""
    return cfg.keep_heatmaps < 0 or i < cfg.keep_heatmaps


def _pipeline(method: str, scans: list[Scan], cfg: ScoringConfig, model, grade) -> list:
    """grade((i, scan), case, scored) of every scan in order, each read ahead and graded behind
    the scoring (evaluation/dataset/pipeline.py)."""

    def read(item):
        scan = item[1]
        return load_any_case(scan.image, scan.mask, scan.seg)

    def score(item, case):  # the network, on the job's device
        return score_raw(method, [model], case.image.data, case.mask, cfg.scan)

    def finish(item, case, scored):  # the median filter, beside the next volume's network
        return finish_scan(scored, case.mask, cfg.scan)

    stages = {"depth": cfg.prefetch, "graders": cfg.graders, "finish": finish}
    return pipelined(list(enumerate(scans)), read, score, grade, **stages)


def score_healthy(
    method: str, scans: list[Scan], cfg: ScoringConfig, meta: dict, heatmap_dir: str | Path, model=None
) -> tuple[float, pd.DataFrame]:
    """Unsupervised threshold (quantile of pooled in-brain scores of healthy volumes) and, per
    volume, the fraction of brain voxels at or above it (the false-positive rate on normal brains).

    Both in atlas space, whatever `space` is: the threshold belongs to the map as the method makes
    it (the model's grid, every scan in the same voxels), which is also where predict applies it;
    taken on native grids it would weight each healthy scan by its own voxel size and count the
    interpolation of the map back."""

    def grade(item, case, vol: ScoredScan) -> np.ndarray:
        i, scan = item
        if _keep(i, cfg):
            save_volume(vol.score, Path(heatmap_dir) / f"{scan.subject}.nii.gz", like=_grid(case))
        print(f"[{i + 1}/{len(scans)}] {scan.subject}", flush=True)
        return vol.score[case.mask].astype(np.float32)

    in_brain = _pipeline(method, scans, cfg, model, grade)
    threshold = unsupervised_threshold(in_brain, None, cfg.unsupervised_quantile)  # already in-brain
    rows = [
        {
            **meta,
            "subject": s.subject,
            "region": "brain",
            "unsup_threshold": threshold,
            "fpr_unsup": float(np.mean(v >= threshold)),
            "score_median": float(np.median(v)),
            "score_p98": float(np.quantile(v, 0.98)),
            **volume_columns(v, threshold, sketch=True),  # Table 4; the bias table's refit threshold
        }
        for s, v in zip(scans, in_brain)
    ]
    return threshold, pd.DataFrame(rows)


def score_lesions(
    method: str,
    scans: list[Scan],
    cfg: ScoringConfig,
    meta: dict,
    threshold: float,
    heatmap_dir: str | Path,
    model=None,
    first_index: int = 0,
    challenge: str | None = None,
    collected: Collected | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Per-volume metrics, one row per ground-truth lesion (size, found at the threshold) and
    non-overlapping patch statistics of a lesion dataset, or of one shard of it whose first
    volume is the dataset's `first_index`-th (for `keep_heatmaps`). Lesion metrics in `cfg.space`;
    `challenge` (config/datasets.yaml, native space only): the set's challenge metrics as columns;
    `collected`: gathers the histograms the merge of the shards needs (pooled AUPRC, tuned Dice)."""
    from patch2loc.evaluation.patches.statistics import patch_statistics
    from patch2loc.methods.patch2loc.patch_size import patch_size_for

    def grade(item, case, vol: ScoredScan):
        i, scan = item
        own = Collected()  # this volume's histograms, joined below in the volumes' order
        row, lesions, m = grade_volume(method, scan, vol, case, cfg, meta, threshold, challenge, own)
        patch_size = getattr(model, "patch_size", None) or cfg.patch_size or patch_size_for(case.mask.shape[0])
        nan = np.full(case.mask.shape, np.nan, np.float32)  # the maps a method does not have
        patches = patch_statistics(  # the model's patches: atlas grid in either space
            vol.raw.get("log_error", nan),
            vol.raw.get("log_variance", nan),
            vol.raw["score"],
            case.seg,
            case.mask,
            patch_size,
            mean=vol.raw.get("mean"),
            logvar=vol.raw.get("logvar"),
            meta={**meta, "subject": scan.subject},
            stride=cfg.patch_stride,
        )
        if _keep(first_index + i, cfg):
            save_volume(vol.score, Path(heatmap_dir) / f"{scan.subject}.nii.gz", like=_grid(case))
        print(
            f"[{i + 1}/{len(scans)}] {scan.subject}: AUPRC {m['auprc']:.3f}, best Dice {m['best_dice']:.3f}", flush=True
        )
        return row, lesions, patches, own

    collected = Collected() if collected is None else collected
    graded = _pipeline(method, scans, cfg, model, grade)
    for *_, own in graded:
        collected.pooled += own.pooled
        collected.tuning += own.tuning
    metric_rows = [row for row, *_ in graded]
    lesion_rows = [lesion for _, lesions, *_ in graded for lesion in lesions]
    lesion_table = pd.DataFrame(lesion_rows, columns=[*meta, *LESION_COLUMNS])
    return pd.DataFrame(metric_rows), lesion_table, pd.concat([g[2] for g in graded], ignore_index=True)

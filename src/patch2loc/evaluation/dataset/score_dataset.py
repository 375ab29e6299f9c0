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
from patch2loc.evaluation.dataset.scan_grid import NativeFiles
from patch2loc.evaluation.dataset.volume_scores import volume_columns
from patch2loc.files.io import Volume, save_volume
from patch2loc.preprocessing.stack import load_any_case
from patch2loc.scoring import ScanSettings, ScoredScan, score_scan, unsupervised_threshold


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


def score_healthy(
    method: str, scans: list[Scan], cfg: ScoringConfig, meta: dict, heatmap_dir: str | Path, model=None
) -> tuple[float, pd.DataFrame]:
    """Unsupervised threshold (quantile of pooled in-brain scores of healthy volumes) and, per
    volume, the fraction of brain voxels at or above it (the false-positive rate on normal brains).

    Both in atlas space, whatever `space` is: the threshold belongs to the map as the method makes
    it (the model's grid, every scan in the same voxels), which is also where predict applies it;
    taken on native grids it would weight each healthy scan by its own voxel size and count the
    interpolation of the map back."""
    in_brain = []
    for i, scan in enumerate(scans):
        case = load_any_case(scan.image, scan.mask, scan.seg)
        vol = score_case(method, case.image.data, case.mask, cfg, model)
        in_brain.append(vol.score[case.mask].astype(np.float32))
        if _keep(i, cfg):
            save_volume(vol.score, Path(heatmap_dir) / f"{scan.subject}.nii.gz", like=_grid(case))
        print(f"[{i + 1}/{len(scans)}] {scan.subject}", flush=True)
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


def graded(scan: Scan, vol: ScoredScan, case, cfg: ScoringConfig, dataset: str):
    """(score, truth, brain, spacing, labels) a volume's lesion metrics are computed on: its own
    grid (space native: labels are the raw label values) or the atlas grid (labels None)."""
    if cfg.space == "atlas":
        spacing = np.linalg.norm(case.image.affine[:3, :3], axis=0)
        return vol.score, case.seg, case.mask, spacing, None
    if scan.native is None:
        raise ValueError(f"{scan.subject}: evaluate.space native needs the scan's native files (Scan.native)")
    from patch2loc.data.layouts import binarize_seg
    from patch2loc.evaluation.dataset.scan_grid import load_native

    nv = load_native(scan.native, vol.score, case.mask, case.image.affine)
    truth = binarize_seg(dataset, nv.labels, wmh_other_pathology=cfg.wmh_other_pathology)
    return nv.score, truth, nv.brain, nv.spacing, nv.labels


def _challenge(challenge: str, pred: np.ndarray, labels: np.ndarray, spacing) -> dict:
    """The lesion set's own challenge metrics (evaluation/challenges), on the native grid: the
    prediction inside the scored region, every ground-truth voxel (the challenges count lesions
    outside any brain mask as missed), the labels read as the challenge reads them (WMH's label 2
    left out, BraTS' three tumour regions)."""
    from patch2loc.evaluation import challenges

    return challenges.label_metrics(challenge, pred, labels, tuple(float(s) for s in spacing))


# Scored natively, a volume is also graded on the atlas grid (the authors' protocol) for the table
# that puts the two side by side (tables/table1_spaces.*): a few tenths of a second per volume.
ATLAS_COLUMNS = ("atlas_auprc", "atlas_best_dice", "atlas_dice_unsup", "atlas_lesion_voxels")


def _atlas_too(vol: ScoredScan, case, cfg: ScoringConfig, threshold: float, evaluate_volume) -> dict:
    if cfg.space == "atlas":
        return {}
    m = evaluate_volume(vol.score, case.seg, case.mask, region=cfg.region, threshold=threshold)
    values = (m["auprc"], m["best_dice"], m["dice_at_threshold"], m["lesion_voxels"])
    return dict(zip(ATLAS_COLUMNS, values))


def _reference(method: str, vol: ScoredScan, case, cfg: ScoringConfig, pooled: list | None, entry: dict) -> dict:
    """evaluate.protocol reference: the volume's metrics under its method's own protocol (on the
    atlas grid, from the raw map; scoring/protocol.py), as ref_* columns, its histogram added to
    `pooled` where that protocol pools AUPRC and to `entry` where it tunes Dice on validation volumes;
    shared: none."""
    if cfg.protocol != "reference":
        return {}
    from patch2loc.scoring.protocol import in_plane_spacing, reference_columns

    spacing = in_plane_spacing(case.image.affine)  # an erosion in mm (Baur's) in voxels of this grid
    return reference_columns(method, vol.raw["score"], case.seg, case.mask, pooled, entry, spacing)


@dataclass
class Collected:
    """What score_lesions gathers for the merge: pooled-AUPRC histograms and, per volume, the code
    histograms of its validation-tuned Dice (evaluation/dataset/tuned_dice.py)."""

    pooled: list = field(default_factory=list)
    tuning: list = field(default_factory=list)


def _graded_row(method, scan: Scan, vol: ScoredScan, case, cfg: ScoringConfig, meta, threshold, challenge, out):
    """The volume's metrics row and its lesion rows, graded in `cfg.space`; its tuning entry into `out`."""
    from patch2loc.evaluation.lesionwise.volume import lesion_metrics
    from patch2loc.scoring.metrics import evaluate_volume
    from patch2loc.scoring.tuning import code_histogram

    score, truth, brain, spacing, labels = graded(scan, vol, case, cfg, meta.get("dataset", ""))
    m = evaluate_volume(score, truth, brain, region=cfg.region, threshold=threshold)
    # Lesion-wise, at the same threshold and in the same region as dice_unsup.
    region = brain if cfg.region == "brain" else np.ones(brain.shape, bool)
    pred = (score >= threshold) & region
    lesionwise, lesions = lesion_metrics(pred, truth & region, spacing, cfg.lesion_rule)
    own = _challenge(challenge, pred, labels, spacing) if challenge and labels is not None else {}
    entry = {"subject": scan.subject, "shared": code_histogram(score, truth, region), "ref": None}
    row = {
        **meta,
        "subject": scan.subject,
        "region": cfg.region,
        "space": cfg.space,
        "auprc": m["auprc"],
        "auroc": m["auroc"],
        "best_dice": m["best_dice"],
        "best_threshold": m["best_threshold"],
        "dice_unsup": m["dice_at_threshold"],
        "unsup_threshold": threshold,
        "lesion_voxels": m["lesion_voxels"],
        **lesionwise,
        **own,
        **_atlas_too(vol, case, cfg, threshold, evaluate_volume),
        **_reference(method, vol, case, cfg, out.pooled, entry),
        # Table 4: one score per volume, in atlas space like the healthy volumes' it is ranked against
        **volume_columns(vol.score[case.mask], threshold),
    }
    out.tuning.append(entry)
    return row, [{**meta, "subject": scan.subject, **lesion} for lesion in lesions], m


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
    from patch2loc.methods.patch2loc.model import patch_size_for

    collected = Collected() if collected is None else collected
    metric_rows, lesion_rows, patch_tables = [], [], []
    for i, scan in enumerate(scans):
        case = load_any_case(scan.image, scan.mask, scan.seg)
        vol = score_case(method, case.image.data, case.mask, cfg, model)
        row, lesions, m = _graded_row(method, scan, vol, case, cfg, meta, threshold, challenge, collected)
        metric_rows.append(row)
        lesion_rows += lesions
        patch_size = getattr(model, "patch_size", None) or cfg.patch_size or patch_size_for(case.mask.shape[0])
        nan = np.full(case.mask.shape, np.nan, np.float32)  # the maps a method does not have
        patch_tables.append(
            patch_statistics(  # the model's patches: atlas grid in either space
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
        )
        if _keep(first_index + i, cfg):
            save_volume(vol.score, Path(heatmap_dir) / f"{scan.subject}.nii.gz", like=_grid(case))
        print(
            f"[{i + 1}/{len(scans)}] {scan.subject}: AUPRC {m['auprc']:.3f}, best Dice {m['best_dice']:.3f}", flush=True
        )
    lesion_table = pd.DataFrame(lesion_rows, columns=[*meta, *LESION_COLUMNS])
    return pd.DataFrame(metric_rows), lesion_table, pd.concat(patch_tables, ignore_index=True)

"""Score one dataset with one method: dense heatmaps -> per-volume metrics + patch statistics.

Used by the workflow's scoring rules. The dense maps of a volume live only while it is scored:
per-volume metrics and non-overlapping patch statistics are collected on the way, and only the
first `keep_heatmaps` heatmaps are written to disk (for figures and for the user to look at).

Methods:
- "Patch2Loc": the model's score (log-error + log-variance), median filtered and masked.
- "Thresh" (Meissen et al. 2022a): the normalised intensity itself, post-processed the same way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from patch2loc.io import load_case, save_volume

METHODS = ("Patch2Loc", "Thresh")


@dataclass
class ScoringConfig:
    """The workflow's `heatmap` and `evaluate` config sections, flattened."""

    stride: int = 1
    batch_size: int = 8192
    amp: str = "auto"
    heatmap_region: str = "dilated"  # which centres the network sees: dilated | mask | all
    median_size: int = 7
    region: str = "brain"  # which voxels the metrics count: brain | volume
    unsupervised_quantile: float = 0.98
    keep_heatmaps: int = 2  # -1 keeps every heatmap
    device: str | None = None

    @classmethod
    def from_workflow(cls, heatmap: dict, evaluate: dict) -> "ScoringConfig":
        return cls(
            stride=heatmap["stride"], batch_size=heatmap["batch_size"], amp=heatmap["amp"],
            heatmap_region=heatmap["region"], median_size=heatmap["median_size"],
            region=evaluate["region"], unsupervised_quantile=evaluate["unsupervised_quantile"],
            keep_heatmaps=evaluate["keep_heatmaps"],
        )


@dataclass
class Scan:
    subject: str
    image: str
    mask: str
    seg: str | None = None


@dataclass
class ScoredVolume:
    """One volume's maps: the post-processed score, and the raw dense maps for patch statistics."""

    score: np.ndarray
    raw: dict = field(default_factory=dict)  # log_error, log_variance, score, mean, logvar


def score_case(method: str, image: np.ndarray, mask: np.ndarray, cfg: ScoringConfig, model=None) -> ScoredVolume:
    """The post-processed anomaly map of one volume (and the raw maps it came from)."""
    from patch2loc.methods.patch2loc.heatmap import postprocess, score_volume

    if method == "Patch2Loc":
        res = score_volume(
            model, image, mask, stride=cfg.stride, batch_size=cfg.batch_size, device=cfg.device,
            amp=cfg.amp, region=cfg.heatmap_region, margin=cfg.median_size // 2,
            return_predictions=True,
        )
        raw = {"log_error": res.log_error, "log_variance": res.log_variance, "score": res.score,
               "mean": res.mean, "logvar": res.logvar}
        return ScoredVolume(postprocess(res.score, mask, cfg.median_size), raw)
    if method == "Thresh":
        intensity = (image * mask).astype(np.float32)
        nan = np.full_like(intensity, np.nan)
        raw = {"log_error": nan, "log_variance": nan, "score": intensity}
        return ScoredVolume(postprocess(intensity, mask, cfg.median_size), raw)
    raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")


def _keep(i: int, cfg: ScoringConfig) -> bool:
    """Whether the i-th volume of the dataset (0-based, counted over all shards) keeps its heatmap."""
    return cfg.keep_heatmaps < 0 or i < cfg.keep_heatmaps


def score_healthy(method: str, scans: list[Scan], cfg: ScoringConfig, meta: dict, heatmap_dir: str | Path,
                  model=None) -> tuple[float, pd.DataFrame]:
    """Unsupervised threshold (quantile of pooled in-brain scores of healthy volumes) and, per
    volume, the fraction of brain voxels above it (the false-positive rate on normal brains)."""
    from patch2loc.evaluation.metrics import unsupervised_threshold

    in_brain = []
    for i, scan in enumerate(scans):
        case = load_case(scan.image, scan.mask)
        vol = score_case(method, case.image.data, case.mask, cfg, model)
        in_brain.append(vol.score[case.mask].astype(np.float32))
        if _keep(i, cfg):
            save_volume(vol.score, Path(heatmap_dir) / f"{scan.subject}.nii.gz", like=case.image)
        print(f"[{i + 1}/{len(scans)}] {scan.subject}", flush=True)
    threshold = unsupervised_threshold(in_brain, None, cfg.unsupervised_quantile)  # already in-brain
    rows = [
        {**meta, "subject": s.subject, "region": "brain", "unsup_threshold": threshold,
         "fpr_unsup": float(np.mean(v > threshold)), "score_median": float(np.median(v)),
         "score_p98": float(np.quantile(v, 0.98))}
        for s, v in zip(scans, in_brain)
    ]
    return threshold, pd.DataFrame(rows)


def score_lesions(method: str, scans: list[Scan], cfg: ScoringConfig, meta: dict, threshold: float,
                  heatmap_dir: str | Path, model=None, first_index: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-volume metrics and non-overlapping patch statistics of a lesion dataset, or of one
    shard of it whose first volume is the dataset's `first_index`-th (for `keep_heatmaps`)."""
    from patch2loc.evaluation.patch_statistics import patch_statistics
    from patch2loc.evaluation.metrics import evaluate_volume
    from patch2loc.methods.patch2loc.model import patch_size_for

    metric_rows, patch_tables = [], []
    for i, scan in enumerate(scans):
        case = load_case(scan.image, scan.mask, scan.seg)
        vol = score_case(method, case.image.data, case.mask, cfg, model)
        m = evaluate_volume(vol.score, case.seg, case.mask, region=cfg.region, threshold=threshold)
        metric_rows.append({
            **meta, "subject": scan.subject, "region": cfg.region, "auprc": m["auprc"],
            "auroc": m["auroc"], "best_dice": m["best_dice"], "best_threshold": m["best_threshold"],
            "dice_unsup": m["dice_at_threshold"], "unsup_threshold": threshold,
            "lesion_voxels": m["lesion_voxels"],
        })
        patch_size = model.patch_size if model is not None else patch_size_for(case.image.data.shape[0])
        patch_tables.append(patch_statistics(
            vol.raw["log_error"], vol.raw["log_variance"], vol.raw["score"], case.seg, case.mask,
            patch_size, mean=vol.raw.get("mean"), logvar=vol.raw.get("logvar"),
            meta={**meta, "subject": scan.subject},
        ))
        if _keep(first_index + i, cfg):
            save_volume(vol.score, Path(heatmap_dir) / f"{scan.subject}.nii.gz", like=case.image)
        print(f"[{i + 1}/{len(scans)}] {scan.subject}: AUPRC {m['auprc']:.3f}, best Dice {m['best_dice']:.3f}",
              flush=True)
    return pd.DataFrame(metric_rows), pd.concat(patch_tables, ignore_index=True)

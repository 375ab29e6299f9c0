"""tables/protocols.csv (docs/protocols.md): for every method, AUPRC and Dice under the shared protocol
and under its own authors' (`evaluate.protocol: reference`, the ref_* columns of metrics.csv) side
by side, with the published row where config/published has one. Percent, like the published rows;
per (method, modality, dataset): the mean over volumes of each fold, then over folds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patch2loc.scoring import steps

KEYS = ["method", "modality", "dataset"]
POOLED = "pooled over the set (half-precision scores)"
CAPTION = (
    "AUPRC and Dice (%) of every method under the shared protocol (Patch2Loc's: the brain mask as it is, "
    "3D median, in-brain AUPRC per volume, best Dice per volume) and under its authors' reference protocol "
    "(ref_*: their mask erosion, median and component filter; docs/protocols.md), beside the published "
    "row. Only post-processing and evaluation differ: the models and their inputs are this run's, so "
    "a reference column is not the published number's protocol in full (the elements not reproduced "
    "are listed per method in docs/protocols.md). AUPRC 'pooled over the set' is one curve over every "
    "test voxel of the set, scores rounded to half precision; AUPRC or Dice marked '(reference pools)' is the "
    "mean of per-volume values where the reference pools the set's voxels. Where the reference tunes its "
    "Dice threshold on labelled validation volumes, each volume's threshold is tuned on the other tuning "
    "fold of its set (splits/<set>_val.csv, cross-fitted; no component filter after it); dice_val_shared is "
    "the shared protocol's Dice tuned the same way, the like-for-like column for those rows."
)


def _fold_mean(df: pd.DataFrame, column: str) -> pd.Series:
    """Mean over volumes per fold, then over folds, per (method, modality, dataset)."""
    values = pd.to_numeric(df[column], errors="coerce") if column in df else pd.Series(np.nan, index=df.index)
    per_fold = df.assign(_v=values).groupby([*KEYS, "fold"], dropna=False)["_v"].mean()
    return per_fold.groupby(level=KEYS).mean() * 100


def _first(df: pd.DataFrame, column: str, default: str = "") -> pd.Series:
    if column not in df:
        return df.groupby(KEYS)["subject"].first().map(lambda _: default)
    return df.groupby(KEYS)[column].first().fillna(default).astype(str)


def _auprc_note(mode: str) -> str:
    return {"pooled": "per volume (reference pools)", "per_volume": "per volume"}.get(mode, mode)


def _pooled_auprc(pooled: list) -> pd.DataFrame:
    """AUPRC (%) of each pooled summary (steps.auprc_from_histogram), mean over folds, per key."""
    rows = [{**{k: meta.get(k) for k in KEYS}, "v": steps.auprc_from_histogram(h)} for h, meta in pooled if h[0].size]
    if not rows:
        return pd.DataFrame(columns=[*KEYS, "pooled"])
    frame = pd.DataFrame(rows).groupby(KEYS)["v"].mean() * 100
    return frame.rename("pooled").reset_index()


def protocol_table(metrics: pd.DataFrame, published: pd.DataFrame, pooled: list | None = None) -> pd.DataFrame:
    """One row per (method, modality, dataset) of `metrics` (per-volume rows, ref_* when the run's
    protocol was reference), joined with the published dice/auprc means. `pooled`: (histogram, meta)
    of each (method, modality, fold, dataset) whose reference pools AUPRC (evaluation/dataset/pooled.py): its
    pooled AUPRC replaces the mean of per-volume values."""
    metrics = metrics.copy()
    metrics["fold"] = metrics["fold"].fillna("").astype(str)
    out = pd.DataFrame(
        {
            "volumes": metrics.groupby(KEYS)["subject"].count(),
            "auprc_shared": _fold_mean(metrics, "auprc"),
            "dice_shared": _fold_mean(metrics, "best_dice"),
            "auprc_reference": _fold_mean(metrics, "ref_auprc"),
            "dice_val_shared": _fold_mean(metrics, "dice_val"),
            "dice_reference": _fold_mean(metrics, "ref_dice"),
            "reference_auprc": _first(metrics, "ref_auprc_mode").map(_auprc_note),
            "reference_dice": _first(metrics, "ref_dice_mode", "evaluate.protocol: shared"),
            "reference_source": _first(metrics, "ref_source"),
        }
    ).reset_index()
    sets = _pooled_auprc(pooled or [])
    out = out.merge(sets, on=KEYS, how="left")
    have = out["pooled"].notna()
    if have.any():
        out.loc[have, "auprc_reference"] = out.loc[have, "pooled"].astype(float)
        out.loc[have, "reference_auprc"] = POOLED
    out = out.drop(columns="pooled")
    pub = published.rename(columns={"auprc_mean": "auprc_published", "dice_mean": "dice_published"})
    pub = pub[[*KEYS, "auprc_published", "dice_published", "citation"]].drop_duplicates(KEYS)
    out = out.merge(pub, on=KEYS, how="left")
    return out.round(2).sort_values(KEYS, kind="stable").reset_index(drop=True)

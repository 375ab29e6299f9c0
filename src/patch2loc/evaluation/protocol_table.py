"""tables/protocols.csv (docs/protocols.md): for every method, AUPRC and Dice under the shared protocol
and under its own authors' (`evaluate.protocol: reference`, the ref_* columns of metrics.csv) side
by side, with the published row where config/published has one. Percent, like the published rows;
per (method, modality, dataset): the mean over volumes of each fold, then over folds."""

from __future__ import annotations

import numpy as np
import pandas as pd

KEYS = ["method", "modality", "dataset"]
CAPTION = (
    "AUPRC and Dice (%) of every method under the shared protocol (Patch2Loc's: the brain mask as it is, "
    "3D median, in-brain AUPRC per volume, best Dice per volume) and under its authors' reference protocol "
    "(ref_*: their mask erosion, median and component filter; docs/protocols.md), beside the published "
    "row. Only post-processing and evaluation differ: the models and their inputs are this run's, so "
    "a reference column is not the published number's protocol in full (the elements not reproduced "
    "are listed per method in docs/protocols.md). AUPRC or Dice marked '(reference pools)' is the "
    "mean of per-volume values where the reference pools the set's voxels; Dice marked 'no validation "
    "split' is empty: the reference tunes its threshold on labelled validation volumes, which no lesion "
    "set here has."
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


def protocol_table(metrics: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, modality, dataset) of `metrics` (per-volume rows, ref_* when the run's
    protocol was reference), joined with the published dice/auprc means."""
    metrics = metrics.copy()
    metrics["fold"] = metrics["fold"].fillna("").astype(str)
    out = pd.DataFrame(
        {
            "volumes": metrics.groupby(KEYS)["subject"].count(),
            "auprc_shared": _fold_mean(metrics, "auprc"),
            "dice_shared": _fold_mean(metrics, "best_dice"),
            "auprc_reference": _fold_mean(metrics, "ref_auprc"),
            "dice_reference": _fold_mean(metrics, "ref_dice"),
            "reference_auprc": _first(metrics, "ref_auprc_mode").map(_auprc_note),
            "reference_dice": _first(metrics, "ref_dice_mode", "evaluate.protocol: shared"),
            "reference_source": _first(metrics, "ref_source"),
        }
    ).reset_index()
    pub = published.rename(columns={"auprc_mean": "auprc_published", "dice_mean": "dice_published"})
    pub = pub[[*KEYS, "auprc_published", "dice_published", "citation"]].drop_duplicates(KEYS)
    out = out.merge(pub, on=KEYS, how="left")
    return out.round(2).sort_values(KEYS, kind="stable").reset_index(drop=True)

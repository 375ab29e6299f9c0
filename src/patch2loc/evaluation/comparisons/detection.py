"""Table 4, volume-level detection: each method's volume score (`evaluate.volume_score`,
`dataset.volume_scores.VOLUME_SCORES`) of the healthy IXI test volumes (negatives) against a lesion
set's volumes (positives): AUROC and AUPRC, per fold then averaged over folds, with a bootstrap
interval that resamples healthy and lesion subjects separately (`uncertainty.detection_interval`).
AUPRC depends on the share of lesion volumes, given as its chance level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from patch2loc.errors import InputError
from patch2loc.evaluation.tables.aggregate import dataset_order, method_order
from patch2loc.evaluation.tables.uncertainty import (
    Bootstrap,
    auroc,
    average_precision,
    detection_interval,
    fold_keys,
    format_interval,
)


def _by_fold(rows: pd.DataFrame, column: str) -> np.ndarray:
    """[folds, subjects] of a column (a subject missing in a fold, or NaN, is left out)."""
    wide = rows.assign(fold=fold_keys(rows["fold"]), subject=rows["subject"].astype(str)).pivot_table(
        index="fold", columns="subject", values=column, aggfunc="first"
    )
    return wide.dropna(axis=1).to_numpy(float)


def table4(lesions: pd.DataFrame, healthy: pd.DataFrame, column: str, boot: Bootstrap) -> pd.DataFrame:
    """One row per (lesion set, method): healthy and lesion volumes, AUROC and AUPRC (%) of the volume
    score `column` with their intervals, AUPRC's chance level; then the same as numbers (fractions)."""
    for name, df in (("lesion-set", lesions), ("healthy IXI", healthy)):
        if column not in df.columns:
            raise InputError(
                f"{name} metrics.csv lack column {column!r} (evaluate.volume_score); re-run the scoring rules "
                "(score_healthy, score_lesions) with this version of patch2loc."
            )
    rows = []
    for dataset in dataset_order(lesions["dataset"]):
        part = lesions[lesions["dataset"] == dataset]
        for method in method_order(part["method"]):
            for modality, pos_rows in part[part["method"] == method].groupby("modality", sort=False):
                neg_rows = healthy[(healthy["method"] == method) & (healthy["modality"] == modality)]
                folds = sorted(set(fold_keys(pos_rows["fold"])) & set(fold_keys(neg_rows["fold"])))
                keep = lambda r: r[fold_keys(r["fold"]).isin(folds)]  # noqa: E731
                neg, pos = _by_fold(keep(neg_rows), column), _by_fold(keep(pos_rows), column)
                if neg.size == 0 or pos.size == 0:
                    continue
                key = (dataset, modality, method, column)
                roc = detection_interval(neg, pos, auroc, boot, *key, "auroc")
                pr = detection_interval(neg, pos, average_precision, boot, *key, "auprc")
                rows.append(
                    {
                        "dataset": dataset,
                        "modality": modality,
                        "method": method,
                        "healthy volumes": neg.shape[1],
                        "lesion volumes": pos.shape[1],
                        "folds": len(folds),
                        "AUROC (%)": format_interval(*roc),
                        "AUPRC (%)": format_interval(*pr),
                        "AUPRC chance (%)": f"{100 * pos.shape[1] / (pos.shape[1] + neg.shape[1]):.2f}",
                        **dict(zip(("auroc", "auroc_low", "auroc_high"), roc)),
                        **dict(zip(("auprc", "auprc_low", "auprc_high"), pr)),
                    }
                )
    numbers = ["auroc", "auroc_low", "auroc_high", "auprc", "auprc_low", "auprc_high"]
    return pd.DataFrame(rows).round(dict.fromkeys(numbers, 5))

"""Tables that compare: the paper's method against every other method, volume by volume (paired
tests), and volume-level detection of lesions against healthy volumes (Table 4).

- `paired_tests`: per lesion set and metric (AUPRC, oracle Dice, Dice at the unsupervised
  threshold), the reference method (the registry's first, `patch2loc.registry.DEFAULT_METHOD`)
  against each other method on the same test subjects (each subject's fold-mean): the median
  paired difference (reference minus other, percentage points) with its bootstrap interval, the
  Wilcoxon signed-rank p-value and the Holm-adjusted one over the whole table (one family: every
  lesion set, metric and method, since a reader scans the table for any difference).
- `table4`: each method's volume score (`evaluate.volume_score`, volume_scores.VOLUME_SCORES) of
  the healthy IXI test volumes (negatives) against a lesion set's volumes (positives): AUROC and
  AUPRC, per fold then averaged over folds, with a bootstrap interval that resamples healthy and
  lesion subjects separately (`uncertainty.detection_interval`). AUPRC depends on the share of
  lesion volumes, given as its chance level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from patch2loc.errors import InputError
from patch2loc.evaluation.tables import dataset_order, method_order
from patch2loc.evaluation.uncertainty import (
    Bootstrap,
    auroc,
    average_precision,
    detection_interval,
    fold_keys,
    format_interval,
    holm,
    paired_test,
    subject_means,
)

PAIRED_METRICS = {"auprc": "AUPRC", "best_dice": "oracle Dice", "dice_unsup": "Dice (unsup. thr.)"}
# Tested too where the metrics have it (runs scored before it existed do not)
OPTIONAL_METRICS = {"dice_val": "Dice (val.-tuned thr.)"}
GROUP = ["dataset", "modality", "region"]


def paired_tests(metrics: pd.DataFrame, reference: str, boot: Bootstrap) -> pd.DataFrame:
    """One row per (lesion set, metric, other method): see the module's docstring. Numbers in
    percentage points; p-values as numbers."""
    missing = {*GROUP, "method", "subject", "fold", *PAIRED_METRICS} - set(metrics.columns)
    if missing:
        raise InputError(f"metrics lack columns {sorted(missing)}; re-run rule table1's inputs (scoring).")
    rows = []
    for dataset in dataset_order(metrics["dataset"]):
        part = metrics[metrics["dataset"] == dataset]
        metrics_here = {**PAIRED_METRICS, **{k: v for k, v in OPTIONAL_METRICS.items() if k in part}}
        for metric, label in metrics_here.items():
            means = subject_means(part, metric, [*GROUP, "method"])
            ref = means[means["method"] == reference]
            for other in method_order(means["method"]):
                if other == reference:
                    continue
                pairs = ref.merge(means[means["method"] == other], on=[*GROUP, "subject"], suffixes=("", "_o"))
                for (modality, region), p in pairs.groupby(["modality", "region"], sort=False):
                    test = paired_test(p[metric], p[f"{metric}_o"], boot, dataset, modality, metric, other)
                    rows.append(
                        {
                            "dataset": dataset,
                            "modality": modality,
                            "region": region,
                            "metric": label,
                            "reference": reference,
                            "method": other,
                            "subjects": test["pairs"],
                            **{k: 100 * test[k] for k in ("median_diff", "median_diff_low", "median_diff_high")},
                            "W": test["statistic"],
                            "p": test["p"],
                        }
                    )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    out["p_holm"] = holm(out["p"])
    out.insert(
        7,
        "median difference (pp)",
        [format_interval(r.median_diff, r.median_diff_low, r.median_diff_high, scale=1.0) for r in out.itertuples()],
    )
    return out.round({"median_diff": 3, "median_diff_low": 3, "median_diff_high": 3, "p": 5, "p_holm": 5})


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

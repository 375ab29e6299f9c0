"""The paired-tests table: the paper's method against every other method, volume by volume.

Per lesion set and metric (AUPRC, oracle Dice, Dice at the unsupervised threshold), the reference
method (the registry's first, `patch2loc.registry.DEFAULT_METHOD`) against each other method on the
same test subjects (each subject's fold-mean): the median paired difference (reference minus
other, percentage points) with its bootstrap interval, the Wilcoxon signed-rank p-value and the
Holm-adjusted one over the whole table (one family: every lesion set, metric and method, since a
reader scans the table for any difference).
"""

from __future__ import annotations

import pandas as pd

from patch2loc.errors import InputError
from patch2loc.evaluation.tables.aggregate import dataset_order, method_order
from patch2loc.evaluation.tables.uncertainty import (
    Bootstrap,
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

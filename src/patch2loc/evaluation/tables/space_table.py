"""Native and atlas space side by side: the same maps and models, graded on each scan's
own grid (evaluate.space native: the map taken back through the inverse registration, the labels
as delivered, the native brain mask) and on the atlas grid (the authors' protocol: the labels moved
there by nearest neighbour, the atlas-space brain mask). A native run records both per volume
(`dataset.grading.ATLAS_COLUMNS`); this table shows each set's means with their intervals and the paired
difference, so a reader sees how much of a number is the grid it was computed on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from patch2loc.evaluation.tables.aggregate import by_input, dataset_order, method_order
from patch2loc.evaluation.tables.uncertainty import bootstrap_interval, format_interval

# what is compared: (native column, atlas column, heading, scale, decimals)
PAIRS = (
    ("auprc", "atlas_auprc", "AUPRC (%)", 100.0, 2),
    ("best_dice", "atlas_best_dice", "oracle Dice (%)", 100.0, 2),
    ("dice_unsup", "atlas_dice_unsup", "Dice at the unsupervised threshold (%)", 100.0, 2),
)
COLUMNS = ("dataset", "modality", "method", "metric", "native", "atlas", "native - atlas", "volumes")


def _cell(values: np.ndarray, boot, scale: float, decimals: int, *key) -> str:
    low, high = bootstrap_interval(values, boot, *key) if boot is not None else (None, None)
    return format_interval(values.mean(), low, high, scale=scale, decimals=decimals)


def space_table(metrics: pd.DataFrame, boot=None) -> pd.DataFrame:
    """One row per (dataset, method, metric) for a native run; empty for an atlas-only run."""
    if "atlas_auprc" not in metrics or metrics["atlas_auprc"].isna().all():
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for dataset in dataset_order(metrics["dataset"].unique()):
        part = metrics[metrics["dataset"] == dataset]
        for method in method_order(part["method"].unique()):
            for name, one in by_input(part[part["method"] == method]):  # the paper's input first
                rows += _rows(one, dataset, method, name, boot)
    return pd.DataFrame(rows, columns=COLUMNS)


def _rows(one: pd.DataFrame, dataset: str, method: str, other: str | None, boot) -> list[dict]:
    """The PAIRS rows of one (set, method, input); the paper's input (`other` None) keeps its interval's
    seed key, another input adds its name to it."""
    rows = []
    for native, atlas, heading, scale, decimals in PAIRS:
        both = one.dropna(subset=[native, atlas])
        if both.empty:
            continue
        # each subject's mean over folds: subjects are what the intervals resample
        per_subject = both.groupby(both["subject"].astype(str))[[native, atlas]].mean()
        n, a = per_subject[native].to_numpy(float), per_subject[atlas].to_numpy(float)
        key = (dataset, method, native) if other is None else (dataset, method, other, native)
        rows.append(
            {
                "dataset": dataset,
                "modality": one["modality"].iloc[0],
                "method": method,
                "metric": heading,
                "native": _cell(n, boot, scale, decimals, *key),
                "atlas": _cell(a, boot, scale, decimals, *key),
                "native - atlas": _cell(n - a, boot, scale, decimals, *key),
                "volumes": len(both),
            }
        )
    return rows

"""Table 3, each set's own challenge: every lesion set with the headline metrics of its challenge
(config/datasets.yaml `challenge:`), computed on the scan's own grid by `challenges.challenge_metrics`. Outside that package, whose metrics import
SimpleITK and MONAI, so that the table rule's light environment (envs/analysis.yaml) can read it.

One row per (dataset, method, metric): sets of different challenges have different metrics, so a
long table keeps one column per thing shown. Each cell is the mean over test subjects with its
bootstrap interval (`evaluation.tables.uncertainty`), and `volumes` says how many volumes have a value
behind it: a challenge's own rules leave some undefined (WMH's HD95 without a lesion, BraTS' lesion
scores when nothing is left after its size floor), and such volumes leave the mean, counted here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from patch2loc.evaluation.tables.aggregate import aggregate, dataset_order, format_cell, method_order

# BraTS' tumour regions as the columns name them (challenges.brats23.REGIONS, whose labels need the
# heavy package) and as the table's headings do (Baid et al. 2021: WT = TC + oedema, TC = ET + NCR).
BRATS_REGIONS = {"wt": "whole tumour", "tc": "tumour core", "et": "enhancing tumour"}
BRATS_METRICS = {
    "lesion_dice": ("lesion-wise Dice (%)", 100.0, 2),
    "lesion_hd95_mm": ("lesion-wise HD95 (mm; 374 per missed or spurious lesion)", 1.0, 1),
    "dice": ("whole-mask Dice (%)", 100.0, 2),
}
# challenge -> (its name in captions, {metric column: (heading, scale to the unit shown, decimals)})
SHOWN = {
    "wmh": (
        "WMH (Kuijf et al. 2019)",
        {
            "wmh_dice": ("Dice (%)", 100.0, 2),
            "wmh_hd95_mm": ("HD95, in-plane boundary (mm)", 1.0, 1),
            "wmh_avd_pct": ("AVD (%)", 1.0, 1),
            "wmh_recall": ("lesion recall (%)", 100.0, 1),
            "wmh_f1": ("lesion F1 (%)", 100.0, 1),
        },
    ),
    "isles22": (
        "ISLES'22",
        {
            "isles_dice": ("Dice (%)", 100.0, 2),
            "isles_avd_ml": ("absolute volume difference (mL)", 1.0, 2),
            "isles_f1": ("lesion F1, TP / (TP + (FP + FN) / 2) (%)", 100.0, 1),
            "isles_count_diff": ("lesion count difference", 1.0, 1),
        },
    ),
    "brats23": (
        "BraTS 2023 lesion-wise",
        {
            f"brats_{region}_{metric}": (f"{name}: {heading}", scale, decimals)
            for region, name in BRATS_REGIONS.items()
            for metric, (heading, scale, decimals) in BRATS_METRICS.items()
        },
    ),
    "mslub": (
        "MSLUB (Dice; lesion-wise TPR and FPR)",
        {
            "mslub_dice": ("Dice (%)", 100.0, 2),
            "mslub_ltpr": ("lesion-wise TPR (%)", 100.0, 1),
            "mslub_lfpr": ("lesion-wise FPR (%)", 100.0, 1),
        },
    ),
}
COLUMNS = ("dataset", "challenge", "modality", "method", "region", "metric", "value", "volumes")


def challenge_table(metrics: pd.DataFrame, challenge_of: dict[str, str], boot=None) -> pd.DataFrame:
    """The long table above from the per-volume metrics; `challenge_of`: dataset -> challenge
    (sets without one, or scored in atlas space without the columns, are left out)."""
    rows = []
    for dataset in dataset_order(metrics["dataset"].unique()):
        challenge = challenge_of.get(dataset)
        if challenge not in SHOWN:
            continue
        name, shown = SHOWN[challenge]
        part = metrics[metrics["dataset"] == dataset]
        present = [c for c in shown if c in part and part[c].notna().any()]
        if not present:
            continue
        agg = aggregate(part.assign(**{c: pd.to_numeric(part[c], errors="coerce") for c in present}), present, boot)
        for method in method_order(agg["method"].unique()):
            for rec in agg[agg["method"] == method].itertuples():
                heading, scale, decimals = shown[rec.metric]
                value = format_cell(rec, scale=scale, decimals=decimals) if np.isfinite(rec.mean) else "n/a"
                rows.append(
                    {
                        "dataset": dataset,
                        "challenge": name,
                        "modality": rec.modality,
                        "method": method,
                        "region": rec.region,
                        "metric": heading,
                        "value": value,
                        "volumes": int(rec.n_volumes),
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS)

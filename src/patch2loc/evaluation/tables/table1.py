"""Table 1 of the paper: best (oracle) Dice and AUPRC per lesion set, our numbers aggregated over
folds (`aggregate`), published numbers beside; and its supplementary table (AUROC, Dice three ways,
the unsupervised threshold).

Every method this harness ran (Patch2Loc, DAE, Thresh, ...) has rows with source "this harness",
above the published rows (source "published"), which another harness computed on other test
subsets and preprocessing (`report.captions.PUBLISHED_NOTE`, in every caption).
"""

from __future__ import annotations

import os

import pandas as pd

from patch2loc.evaluation.tables.aggregate import (
    PUBLISHED,
    THIS_RUN,
    aggregate,
    dataset_order,
    format_cell,
    format_mean_std,
    method_order,
    read_published,
    rows_by_input,
)
from patch2loc.evaluation.tables.uncertainty import Bootstrap

PUBLISHED1_COLUMNS = ("method", "dataset", "dice_mean", "dice_std", "auprc_mean", "auprc_std")


def table1(
    metrics: pd.DataFrame,
    published_csv: str | os.PathLike | None = None,
    *,
    ddof: int = 1,
    boot: Bootstrap | None = None,
) -> pd.DataFrame:
    """Table 1: best (oracle) Dice and AUPRC per dataset, percent, mean ± std over folds, or
    mean [bootstrap interval] given `boot`.

    First one row per (method, region) this harness ran (source 'this harness', methods in the
    registry's order), then every published method (source 'published'). Columns: method,
    source, region, then '<dataset> Dice', '<dataset> AUPRC' per dataset.
    """
    agg = aggregate(metrics, ["best_dice", "auprc"], boot, ddof=ddof)
    published = None if published_csv is None else read_published(published_csv, PUBLISHED1_COLUMNS)
    names = set(agg["dataset"]) | (set(published["dataset"]) if published is not None else set())
    datasets = dataset_order(names)
    columns = ["method", "source", "region"] + [f"{d} {m}" for d in datasets for m in ("Dice", "AUPRC")]

    rows: list[dict] = []
    for method in method_order(agg["method"]):
        for region, group in agg[agg["method"] == method].groupby("region", sort=False):
            for name, part in rows_by_input(method, group):
                row = {"method": name, "source": THIS_RUN, "region": region}
                for rec in part.itertuples():
                    label = "Dice" if rec.metric == "best_dice" else "AUPRC"
                    row[f"{rec.dataset} {label}"] = format_cell(rec)
                rows.append(row)
    if published is not None:
        for method, group in published.groupby("method", sort=False):
            row = {"method": method, "source": PUBLISHED, "region": ""}
            for rec in group.itertuples():
                row[f"{rec.dataset} Dice"] = format_mean_std(rec.dice_mean, rec.dice_std, scale=1.0)
                row[f"{rec.dataset} AUPRC"] = format_mean_std(rec.auprc_mean, rec.auprc_std, scale=1.0)
            rows.append(row)
    return pd.DataFrame(rows, columns=columns).fillna("")


def table1_supplementary(metrics: pd.DataFrame, *, ddof: int = 1, boot: Bootstrap | None = None) -> pd.DataFrame:
    """AUROC, Dice three ways (at the unsupervised threshold, at the threshold tuned on the set's other
    tuning fold, the oracle best) and the unsupervised threshold, per
    dataset and method (mean [interval] given `boot`; the threshold: mean ± std over folds).

    Long format, one row per (dataset, method, region): the region says which voxels were
    scored ('brain' = inside the brain mask, 'volume' = all voxels as in the authors' code).
    Percent except the threshold, which is in score units.
    """
    tuned = ["dice_val"] if "dice_val" in metrics else []  # runs scored before it existed lack it
    agg = aggregate(metrics, ["auroc", "dice_unsup", *tuned, "best_dice", "unsup_threshold"], boot, ddof=ddof)
    rows = []
    # one row per model input too: a set scored by a single- and a two-contrast model (docs/multimodal.md)
    for (dataset, method, _, region), group in agg.groupby(["dataset", "method", "modality", "region"], sort=False):
        by = group.set_index("metric")
        cell = {m: format_cell(r) for m, r in zip(by.index, by.itertuples())}
        rows.append(
            {
                "dataset": dataset,
                "modality": by["modality"].iloc[0],
                "method": method,
                "region": region,
                "AUROC": cell["auroc"],
                "Dice (unsup. thr.)": cell["dice_unsup"],
                "Dice (val.-tuned thr.)": cell.get("dice_val", ""),
                "oracle Dice (upper bound)": cell["best_dice"],
                "unsup. threshold": format_mean_std(
                    by.at["unsup_threshold", "mean"], by.at["unsup_threshold", "std"], scale=1.0
                ),
                "folds": int(by.at["auroc", "n_folds"]),
                "volumes": int(by.at["auroc", "n_volumes"]),
            }
        )
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    order = {
        "dataset": {d: i for i, d in enumerate(dataset_order(out["dataset"]))},
        "method": {m: i for i, m in enumerate(method_order(out["method"]))},
    }
    return out.sort_values(
        ["dataset", "method", "region"], key=lambda s: s.map(order[s.name]) if s.name in order else s, kind="stable"
    ).reset_index(drop=True)

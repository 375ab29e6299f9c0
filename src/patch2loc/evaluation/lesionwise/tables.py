"""Table 3 and the size-stratified tables, from the lesion sets' metrics.csv and lesions.csv.

- `table3`: the challenges' metrics at the unsupervised threshold per (dataset, method): Dice,
  HD95, AVD, lesion-wise recall and F1 (per volume, as the WMH challenge scores a subject), false-
  positive components per volume; per fold the mean over volumes, then mean ± std over folds.
- `recall_by_size`: lesion-wise recall in lesion-volume bins (mL, the same bins for every set):
  per fold, found / lesions pooled over the fold's volumes; then mean ± std over folds.
- `auprc_by_load`: AUPRC by tertile of a volume's total lesion volume (tertiles of each set's
  volumes, ties split by order), per fold the mean, then mean ± std over folds.
"""

from __future__ import annotations

from patch2loc.data.layouts import MODALITIES

import numpy as np
import pandas as pd

from patch2loc.evaluation.tables.aggregate import (
    aggregate,
    dataset_order,
    format_cell,
    format_mean_std,
    method_order,
)

# metric column -> (heading, scale to the unit shown, decimals)
TABLE3 = {
    "dice_unsup": ("Dice (%)", 100.0, 2),
    "hd95_mm": ("HD95 (mm)", 1.0, 1),
    "avd_pct": ("AVD (%)", 1.0, 1),
    "lesion_recall": ("lesion recall (%)", 100.0, 1),
    "lesion_f1": ("lesion F1 (%)", 100.0, 1),
    "fp_components": ("FP components / volume", 1.0, 1),
}
TERTILES = ("low", "middle", "high")


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    order = {
        "dataset": {d: i for i, d in enumerate(dataset_order(df["dataset"]))},
        "method": {m: i for i, m in enumerate(method_order(df["method"]))},
    }
    return df.sort_values(["dataset", "method"], key=lambda s: s.map(order[s.name]), kind="stable").reset_index(
        drop=True
    )


def table3(metrics: pd.DataFrame, *, ddof: int = 1, boot=None) -> pd.DataFrame:
    """One row per (dataset, method, region): the TABLE3 columns, lesions per volume, folds, volumes;
    given `boot` (uncertainty.Bootstrap) each cell is 'mean [bootstrap interval]' instead of '± std'."""
    agg = aggregate(metrics, [*TABLE3, "lesions"], boot, ddof=ddof)
    rows = []
    # one row per model input too: a set scored by a single- and a two-contrast model (docs/multimodal.md)
    for (dataset, method, _, region), group in agg.groupby(["dataset", "method", "modality", "region"], sort=False):
        by = group.set_index("metric")
        row = {"dataset": dataset, "modality": by["modality"].iloc[0], "method": method, "region": region}
        recs = dict(zip(by.index, by.itertuples()))
        for col, (heading, scale, decimals) in TABLE3.items():
            row[heading] = format_cell(recs[col], scale=scale, decimals=decimals)
        row["lesions / volume"] = format_mean_std(by.at["lesions", "mean"], np.nan, scale=1.0, decimals=1)
        row["folds"], row["volumes"] = int(by.at["dice_unsup", "n_folds"]), int(by.at["dice_unsup", "n_volumes"])
        rows.append(row)
    return _sorted(pd.DataFrame(rows)) if rows else pd.DataFrame(rows)


def size_bin_labels(edges) -> list[str]:
    """Bin names for edges (0.01, 0.1): '<0.01 mL', '0.01-0.1 mL', '>=0.1 mL'."""
    edges = [f"{e:g}" for e in edges]
    return [f"<{edges[0]} mL", *[f"{a}-{b} mL" for a, b in zip(edges, edges[1:])], f">={edges[-1]} mL"]


def recall_by_size_per_fold(lesions: pd.DataFrame, edges) -> pd.DataFrame:
    """Per (dataset, modality, method, fold, size bin): lesions, found, recall (a fraction)."""
    labels = size_bin_labels(edges)
    binned = lesions.assign(
        size_bin=pd.Categorical.from_codes(np.searchsorted(edges, lesions["volume_ml"], side="right"), labels),
        fold=lesions["fold"].fillna("").astype(str),
    )
    out = binned.groupby(["dataset", "modality", "method", "fold", "size_bin"], observed=False)["found"]
    out = out.agg(lesions="size", found="sum").reset_index()
    out = out[out.groupby(["dataset", "method", "fold"])["lesions"].transform("sum") > 0]  # combinations seen
    return out.assign(recall=out["found"] / out["lesions"].where(out["lesions"] > 0))


def recall_by_size(per_fold: pd.DataFrame, *, ddof: int = 1) -> pd.DataFrame:
    """Rows (dataset, method); one column per size bin: recall (%) mean ± std over folds, then
    '(n)' the lesions in the bin per fold."""
    bins = list(per_fold["size_bin"].cat.categories)
    rows = []
    for (dataset, method, modality), group in per_fold.groupby(["dataset", "method", "modality"], sort=False):
        row = {"dataset": dataset, "modality": modality, "method": method}
        for size_bin, cell in group.groupby("size_bin", observed=False):
            recall = cell["recall"].dropna()
            n = int(cell["lesions"].max()) if len(cell) else 0  # every fold scores the same lesions
            text = format_mean_std(recall.mean(), recall.std(ddof=ddof) if len(recall) > ddof else np.nan, decimals=1)
            row[size_bin] = f"{text} ({n})" if n else "(0)"
        rows.append(row)
    return _sorted(pd.DataFrame(rows, columns=["dataset", "modality", "method", *bins])) if rows else pd.DataFrame()


def load_tertiles(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, subject): lesion_ml and its tertile of the set's volumes ('low', 'middle', 'high')."""
    volumes = metrics.drop_duplicates(["dataset", "subject"])[["dataset", "subject", "lesion_ml"]]
    rank = volumes.groupby("dataset")["lesion_ml"].rank(method="first") - 1
    size = volumes.groupby("dataset")["lesion_ml"].transform("size")
    return volumes.assign(tertile=[TERTILES[int(3 * r // n)] for r, n in zip(rank, size)])


def auprc_by_load(metrics: pd.DataFrame, *, ddof: int = 1, boot=None) -> pd.DataFrame:
    """Rows (dataset, lesion-load tertile with its range in mL and volumes); one column per method:
    AUPRC (%) mean ± std over folds, or mean [bootstrap interval] given `boot`."""
    tertiles = load_tertiles(metrics)
    data = metrics.drop(columns=["lesion_ml"]).merge(tertiles, on=["dataset", "subject"])
    # one column per model input: "method [input]" beside a set's own contrast (as Table 1, docs/multimodal.md)
    own = data["modality"] == data["dataset"].map(lambda d: MODALITIES.get(d, ("",))[0])
    data = data.assign(method=data["method"].where(own, data["method"] + " [" + data["modality"] + "]"))
    agg = aggregate(data.assign(dataset=data["dataset"] + "\t" + data["tertile"]), ["auprc"], boot, ddof=ddof)
    methods = method_order(agg["method"])
    rows = []
    for dataset in dataset_order(tertiles["dataset"]):
        for tertile in TERTILES:
            members = tertiles[(tertiles["dataset"] == dataset) & (tertiles["tertile"] == tertile)]
            if members.empty:
                continue
            row = {
                "dataset": dataset,
                "lesion load": tertile,
                "range (mL)": f"{members['lesion_ml'].min():.3g}-{members['lesion_ml'].max():.3g}",
                "volumes": len(members),
            }
            cell = agg[agg["dataset"] == f"{dataset}\t{tertile}"].set_index("method")
            row.update({m: format_cell(cell.loc[m]) for m in methods if m in cell.index})
            rows.append(row)
    return pd.DataFrame(rows, columns=["dataset", "lesion load", "range (mL)", "volumes", *methods]).fillna("")

"""Table 2 (paper): Spearman rho of a patch's lesion fraction with each method's outputs, beside the
published Patch2Loc row (the shared reading and formatting: `aggregate`)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from patch2loc.evaluation.patches.statistics import SCORE_COLUMNS, spearman_table
from patch2loc.evaluation.tables.aggregate import (
    PUBLISHED,
    THIS_RUN,
    read_published,
    dataset_order,
    format_mean_std,
    method_order,
    own_input,
)
from patch2loc.registry import DEFAULT_METHOD

METRIC_LABELS = {"log_error": "Log-error", "log_variance": "Log-variance", "score": "Score"}


def table2(
    patches_or_spearman: pd.DataFrame, published_csv: str | os.PathLike | None = None, *, ddof: int = 1
) -> pd.DataFrame:
    """Table 2: Spearman rho (percent) of a patch's lesion fraction with each method's outputs.

    Takes the patch table (patch_statistics rows) or its spearman_table. Rows 'this harness':
    per method (registry order) each output it has (Patch2Loc: log-error, log-variance, score;
    the others: their score), then the published rows (the paper's Patch2Loc), then the number
    of mixed patches. Columns: method, metric, source, then one per dataset (datasets without
    mixed patches, e.g. IXI, are left out).
    """
    spear = patches_or_spearman
    if "rho_mean" not in spear.columns:
        spear = spearman_table(spear, ddof=ddof)
    spear = spear[spear["n_patches"] > 0]
    if "method" not in spear.columns:
        spear = spear.assign(method=DEFAULT_METHOD)
    label = spear["dataset"].astype(str)
    if "modality" in spear.columns:  # the paper's input in the set's own column; another input (a T1
        # model scoring BraTS21, a T1T2 stack) in a column of its own, "BraTS21 [T1T2]", never pooled
        label = label.where(own_input(spear), label + " [" + spear["modality"].astype(str) + "]")
    spear = spear.assign(column=label)
    published = None if published_csv is None else read_published(published_csv, ["metric"])
    names = set(spear["column"]) | (set(published.columns) - {"metric"} if published is not None else set())
    datasets = dataset_order(names)

    rows = []
    for method in method_order(spear["method"]):
        ours = spear[spear["method"] == method]
        for metric in [m for m in SCORE_COLUMNS if m in set(ours["metric"])]:
            rows.append(
                {
                    "method": method,
                    "metric": METRIC_LABELS[metric],
                    "source": THIS_RUN,
                    **{
                        r.column: format_mean_std(r.rho_mean, r.rho_std)
                        for r in ours[ours["metric"] == metric].itertuples()
                    },
                }
            )
    if published is not None:
        for pub in published.to_dict("records"):
            if pub["metric"] in METRIC_LABELS:
                rows.append(
                    {
                        "method": DEFAULT_METHOD,
                        "metric": METRIC_LABELS[pub["metric"]],
                        "source": PUBLISHED,
                        **{d: format_mean_std(pub[d], np.nan, scale=1.0, decimals=0) for d in datasets if d in pub},
                    }
                )
    counts = spear[spear["metric"] == "score"].drop_duplicates("column")
    rows.append(
        {
            "method": "",
            "metric": "mixed patches (n)",
            "source": THIS_RUN,
            **{r.column: str(int(r.n_patches)) for r in counts.itertuples()},
        }
    )
    return pd.DataFrame(rows, columns=["method", "metric", "source"] + datasets).fillna("")

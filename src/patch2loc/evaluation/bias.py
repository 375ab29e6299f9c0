"""The bias table: false positives on healthy brains by IXI site, sex and age band, per method.

The value is each healthy IXI test volume's `fpr_unsup` (healthy metrics.csv): the fraction of its
in-brain voxels above the unsupervised threshold. That threshold is the 98th percentile of the same
volumes' pooled in-brain scores, so over all volumes about 2 % lie above it by construction; what
the table shows is how that 2 % is shared out: a group well above 2 % is where a method raises false
alarms on normal brains. Per fold: the mean over the group's volumes; then mean ± std over folds
(`tables.aggregate_folds`), percent, with the number of volumes in brackets.
"""

from __future__ import annotations

import pandas as pd

from patch2loc.errors import InputError
from patch2loc.evaluation.demographics import SITES, UNKNOWN, age_bands, subject_groups
from patch2loc.evaluation.tables import aggregate_folds, format_mean_std, method_order

GROUPINGS = {"all": "all", "site": "site", "sex": "sex", "age_band": "age"}


def _group_order(grouping: str, names, age_edges) -> list[str]:
    first = {"site": list(SITES), "sex": ["F", "M"], "age_band": age_bands(age_edges)}.get(grouping, [])
    names = set(names)
    rest = sorted(names - set(first) - {UNKNOWN}) + ([UNKNOWN] if UNKNOWN in names else [])
    return [g for g in first if g in names] + rest


def bias_table(healthy: pd.DataFrame, demographics: pd.DataFrame, age_edges, *, ddof: int = 1) -> pd.DataFrame:
    """Rows (grouping, group); one column per method and modality ('Patch2Loc T1'): the fraction of
    brain above the unsupervised threshold, '%.2f ± %.2f (n)'."""
    missing = {"method", "modality", "fold", "subject", "fpr_unsup"} - set(healthy.columns)
    if missing:
        raise InputError(f"healthy metrics lack columns {sorted(missing)}; re-run rule score_healthy.")
    groups = subject_groups(sorted(set(healthy["subject"].astype(str))), demographics, age_edges)
    data = healthy.assign(subject=healthy["subject"].astype(str), all="all", region="brain").merge(groups, on="subject")
    columns = {
        (m, mod): f"{m} {mod}"
        for m in method_order(data["method"])
        for mod in sorted(set(data.loc[data["method"] == m, "modality"]))
    }
    rows = []
    for grouping, label in GROUPINGS.items():
        agg = aggregate_folds(data.assign(dataset=data[grouping]), ["fpr_unsup"], ddof=ddof)
        for group in _group_order(grouping, agg["dataset"], age_edges):
            row = {"grouping": label, "group": group}
            for rec in agg[agg["dataset"] == group].itertuples():
                volumes = rec.n_volumes // max(rec.n_folds, 1)  # volumes per fold
                row[columns[(rec.method, rec.modality)]] = f"{format_mean_std(rec.mean, rec.std)} ({volumes})"
            rows.append(row)
    return pd.DataFrame(rows, columns=["grouping", "group", *columns.values()]).fillna("")

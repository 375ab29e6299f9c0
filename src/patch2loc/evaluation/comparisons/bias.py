"""The bias table: false positives on healthy brains by IXI site, sex and age band, per method.

The value is a healthy IXI test volume's fraction of in-brain voxels above a threshold that was
fitted WITHOUT that volume. The workflow's unsupervised threshold is the quantile of the pooled
in-brain scores of all IXI test volumes; judging those same volumes against it is circular (over
all of them exactly 2 % lie above it, by construction). Here the threshold is cross-fitted: the IXI
test subjects are split by subject, seeded (`evaluate.bootstrap.seed`), into two halves; each
model's threshold is refitted on one half (the same quantile of its pooled scores) and applied to
the other, and the other way round. Every volume is so evaluated once, against a threshold that
never saw it, and no subject is wasted on fitting only (a single split would halve the subjects
per cell). The refit uses each volume's quantile sketch (volume_scores: exact to the sketch's level
step, 0.05 percentage points near the 0.98 quantile; the table's caption gives the largest error).

Per cell: the mean over the group's subjects of each subject's fold-mean, its subject-level
bootstrap interval and the number of subjects (uncertainty). Per factor (site, sex, age band) and
model a permutation test of "no difference between the groups": the statistic is the between-group
sum of squares, sum_g n_g (mean_g - mean)^2, over subjects with a known group; the p-value is
(1 + permutations at least as large) / (1 + permutations).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from patch2loc.errors import InputError
from patch2loc.data.demographics import SITES, UNKNOWN, age_bands, subject_groups
from patch2loc.evaluation.tables.aggregate import method_order
from patch2loc.evaluation.tables.uncertainty import Bootstrap, bootstrap_interval, fold_keys, format_interval
from patch2loc.evaluation.dataset.volume_scores import (
    SKETCH_COLUMNS,
    fraction_above,
    pooled_quantile,
    sketch_error,
    sketch_of,
)

GROUPINGS = {"all": "all", "site": "site", "sex": "sex", "age_band": "age"}
MODEL = ["method", "modality", "fold"]


def halves(subjects, seed: int) -> dict[str, int]:
    """subject -> 0 or 1: a seeded random split of the subjects into two halves (sizes differ by <= 1)."""
    subjects = sorted(set(map(str, subjects)))
    order = np.random.default_rng(seed).permutation(len(subjects))
    return {subjects[i]: int(rank % 2) for rank, i in enumerate(order)}


def crossfit_fpr(healthy: pd.DataFrame, quantile: float, seed: int) -> pd.DataFrame:
    """The healthy rows with `half`, `threshold` (fitted on the other half of the same model's
    volumes), `fpr` (the fraction above it) and `error` (the sketch's bound on fpr's error); NaN
    threshold and fpr where the other half has no volume of the model."""
    missing = {*MODEL, "subject", "brain_voxels", *SKETCH_COLUMNS} - set(healthy.columns)
    if missing:
        shown = sorted(missing)[:4] + (["..."] if len(missing) > 4 else [])
        raise InputError(
            f"healthy IXI metrics.csv lack columns {shown}: re-run rule score_healthy with this version of "
            "patch2loc (it writes each volume's score quantiles, from which the bias table refits the threshold)."
        )
    data = healthy.assign(subject=healthy["subject"].astype(str), fold=fold_keys(healthy["fold"]))
    data["half"] = data["subject"].map(halves(data["subject"], seed))
    parts = []
    for _, model in data.groupby(MODEL, sort=False):
        for half in (0, 1):
            fit, evaluated = model[model["half"] != half], model[model["half"] == half]
            if evaluated.empty:
                continue
            if fit.empty:  # every volume in one half (a single subject): nothing to fit on without it
                parts.append(evaluated.assign(threshold=np.nan, fpr=np.nan, error=0.0))
                continue
            t = pooled_quantile(sketch_of(fit), fit["brain_voxels"].to_numpy(), quantile)
            sketch = sketch_of(evaluated)
            parts.append(evaluated.assign(threshold=t, fpr=fraction_above(sketch, t), error=sketch_error(sketch, t)))
    return pd.concat(parts, ignore_index=True)


def between_groups(values: np.ndarray, labels: np.ndarray) -> float:
    """sum_g n_g (mean_g - mean)^2."""
    grand = values.mean()
    return float(sum(np.sum(labels == g) * (values[labels == g].mean() - grand) ** 2 for g in np.unique(labels)))


def permutation_p(values, labels, boot: Bootstrap, *key) -> float:
    """The permutation p-value of `between_groups` (labels shuffled over subjects, seeded)."""
    values, labels = np.asarray(values, float), np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return np.nan
    observed, rng = between_groups(values, labels), boot.rng(*key)
    hits = sum(between_groups(values, rng.permutation(labels)) >= observed - 1e-12 for _ in range(boot.resamples))
    return (1 + hits) / (1 + boot.resamples)


def _group_order(grouping: str, names, age_edges) -> list[str]:
    first = {"site": list(SITES), "sex": ["F", "M"], "age_band": age_bands(age_edges)}.get(grouping, [])
    names = set(names)
    rest = sorted(names - set(first) - {UNKNOWN}) + ([UNKNOWN] if UNKNOWN in names else [])
    return [g for g in first if g in names] + rest


def bias_table(
    healthy: pd.DataFrame, demographics: pd.DataFrame, age_edges, *, quantile: float, boot: Bootstrap
) -> tuple[pd.DataFrame, float]:
    """Rows (grouping, group) then one row per factor with its permutation p-value; one column per
    method and modality ('Patch2Loc T1'): '%.2f [low, high] (n)' percent of brain above the
    cross-fitted threshold. Returns the table and the largest sketch error (a fraction)."""
    fitted = crossfit_fpr(healthy, quantile, boot.seed)
    per_subject = fitted.groupby(["method", "modality", "subject"], sort=False)["fpr"].mean().reset_index().dropna()
    groups = subject_groups(sorted(set(per_subject["subject"])), demographics, age_edges)
    data = per_subject.merge(groups, on="subject").assign(all="all")
    columns = {
        (m, mod): f"{m} {mod}"
        for m in method_order(data["method"])
        for mod in sorted(set(data.loc[data["method"] == m, "modality"]))
    }
    rows = []
    for grouping, label in GROUPINGS.items():
        for group in _group_order(grouping, data[grouping], age_edges):
            row = {"grouping": label, "group": group}
            for (m, mod), name in columns.items():
                v = data.loc[(data["method"] == m) & (data["modality"] == mod) & (data[grouping] == group), "fpr"]
                if len(v):
                    low, high = bootstrap_interval(v, boot, m, mod, grouping, group)
                    row[name] = f"{format_interval(v.mean(), low, high)} ({len(v)})"
            rows.append(row)
        if grouping == "all":
            continue
        row = {"grouping": label, "group": "permutation p"}
        for (m, mod), name in columns.items():
            cell = data[(data["method"] == m) & (data["modality"] == mod) & (data[grouping] != UNKNOWN)]
            p = permutation_p(cell["fpr"], cell[grouping], boot, m, mod, grouping)
            row[name] = "" if np.isnan(p) else f"{p:.3f}"
        rows.append(row)
    table = pd.DataFrame(rows, columns=["grouping", "group", *columns.values()]).fillna("")
    return table, float(fitted["error"].max())

"""What every table shares: metrics.csv files read and checked, folds aggregated, cells formatted,
datasets and methods in their order, rows split by model input.

Aggregation follows Behrendt et al.'s protocol: per fold, the mean over test volumes; then the
mean +- standard deviation of those fold means. The paper does not say which standard deviation;
we use the sample standard deviation over folds (ddof=1) by default and take `ddof` as an
argument. A method without folds (the Thresh baseline, fold empty) has one "fold": its std is
empty, as in the paper. Values in metrics.csv are fractions; tables show percent, "59.50 ± 1.45", or
with `boot` (evaluate.bootstrap) the mean and its subject-level interval, "59.50 [57.10, 61.80]".
"""

from __future__ import annotations

import os
from typing import Iterable

import numpy as np
import pandas as pd

from patch2loc.evaluation.tables.uncertainty import Bootstrap, add_intervals, format_interval, interval_columns
from patch2loc.errors import InputError
from patch2loc.data.layouts import MODALITIES
from patch2loc.registry import METHODS

METRICS_COLUMNS = (
    "method",
    "modality",
    "fold",
    "dataset",
    "subject",
    "region",
    "auprc",
    "auroc",
    "best_dice",
    "best_threshold",
    "dice_unsup",
    "unsup_threshold",
    "lesion_voxels",
)
DATASET_ORDER = ("BraTS21", "MSLUB", "ATLAS_v2", "WMH")
THIS_RUN, PUBLISHED = "this harness", "published"


def read_csvs(
    paths: Iterable[str | os.PathLike],
    required: Iterable[str] = METRICS_COLUMNS,
    usecols: Iterable[str] | None = None,
    numeric: Iterable[str] = (),
) -> pd.DataFrame:
    """Concatenate csv files (e.g. every metrics.csv of a run), checking each has `required` columns.

    `usecols` reads only those columns (those a file lacks are skipped), to spare memory. `numeric`:
    columns whose every filled cell must be a finite number (read as such); text there was kept as text
    and summed or compared as text, a table written with exit 0.
    """
    frames = []
    keep = None if usecols is None else set(usecols) | set(required)
    for path in paths:
        if not os.path.exists(path):
            raise InputError(f"{path}: file not found. Run the step that writes it first.")
        try:
            df = pd.read_csv(path, usecols=None if keep is None else keep.__contains__)
        except Exception as exc:  # pandas raises several types for broken csv files
            raise InputError(
                f"{path}: cannot be read as csv ({exc}). Delete it and re-run the step that writes it."
            ) from exc
        missing = set(required) - set(df.columns)
        if missing:
            raise InputError(
                f"{path}: missing columns {sorted(missing)}. Re-run the step that writes it "
                "with this version of patch2loc."
            )
        frames.append(_numbers(df, numeric, path))
    if not frames:
        raise InputError("read_csvs: no csv files given; check the workflow's input list.")
    return pd.concat(frames, ignore_index=True)


def _numbers(df: pd.DataFrame, columns: Iterable[str], path) -> pd.DataFrame:
    """`df` with `columns` as numbers; InputError naming the file, column and row of a cell that is not one."""
    for column in columns:
        if column not in df:
            continue
        values = pd.to_numeric(df[column], errors="coerce")
        bad = (values.isna() & df[column].notna()) | np.isinf(values)
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{path}: column {column} holds {str(df[column].iloc[row])[:40]!r} in data row {row + 1}, not a "
                "finite number. Delete the file and re-run the step that writes it."
            )
        df[column] = values
    return df


def _require(df: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = set(columns) - set(df.columns)
    if missing:
        raise InputError(f"{what} lacks columns {sorted(missing)}; build it from the workflow's metrics.csv files.")


def aggregate_folds(metrics: pd.DataFrame, columns: Iterable[str], *, ddof: int = 1) -> pd.DataFrame:
    """Mean over volumes per fold, then mean and std over folds, for each metric column.

    Returns one row per (method, dataset, modality, region, metric) with mean, std (fractions;
    std NaN with fewer than ddof+1 folds), n_folds and n_volumes (volumes with a finite value,
    summed over folds). NaN values (e.g. AUPRC of a volume without lesion) are skipped.
    """
    columns = list(columns)
    _require(metrics, ("method", "dataset", "modality", "region", "fold", *columns), "metrics table")
    keys = ["method", "dataset", "modality", "region"]
    per_fold = metrics.groupby(keys + ["fold"], dropna=False, sort=False)[columns]
    means = per_fold.mean().reset_index()
    counts = per_fold.count().reset_index()
    rows = []
    for key, group in means.groupby(keys, dropna=False, sort=False):
        count = counts.loc[group.index]
        for col in columns:
            vals = group[col].dropna()
            rows.append(
                {
                    **dict(zip(keys, key)),
                    "metric": col,
                    "mean": vals.mean() if len(vals) else np.nan,
                    "std": vals.std(ddof=ddof) if len(vals) > ddof else np.nan,
                    "n_folds": len(vals),
                    "n_volumes": int(count[col].sum()),
                }
            )
    return pd.DataFrame(rows, columns=keys + ["metric", "mean", "std", "n_folds", "n_volumes"])


def format_mean_std(mean: float, std: float, *, scale: float = 100.0, decimals: int = 2) -> str:
    """'59.50 ± 1.45' (values times `scale`); just the mean when std is missing; '' when no mean."""
    if mean is None or pd.isna(mean):
        return ""
    text = f"{mean * scale:.{decimals}f}"
    if std is not None and not pd.isna(std):
        text += f" ± {std * scale:.{decimals}f}"
    return text


def aggregate(metrics: pd.DataFrame, columns: Iterable[str], boot: Bootstrap | None = None, *, ddof: int = 1):
    """`aggregate_folds`, with the bootstrap interval of each mean (`low`, `high`) when `boot` is given."""
    agg = aggregate_folds(metrics, columns, ddof=ddof)
    return agg if boot is None else add_intervals(agg, metrics, boot)


def format_cell(rec, *, scale: float = 100.0, decimals: int = 2) -> str:
    """An aggregate row (namedtuple or Series): 'mean [low, high]' with an interval, else 'mean ± std'."""
    row = rec._asdict() if hasattr(rec, "_asdict") else dict(rec)
    if "low" in row:
        return format_interval(row["mean"], row["low"], row["high"], scale=scale, decimals=decimals)
    return format_mean_std(row["mean"], row["std"], scale=scale, decimals=decimals)


def interval_table(metrics: pd.DataFrame, columns: Iterable[str], boot: Bootstrap, *, ddof: int = 1) -> pd.DataFrame:
    """Per (method, dataset, modality, region): each metric's mean, interval and std over folds as
    numbers (fractions), and n_subjects: the csv beside a table whose cells show them."""
    return interval_columns(aggregate(metrics, columns, boot, ddof=ddof), ["method", "dataset", "modality", "region"])


def dataset_order(names: Iterable[str]) -> list[str]:
    names = set(names)
    return [d for d in DATASET_ORDER if d in names] + sorted(names - set(DATASET_ORDER))


def read_published(path: str | os.PathLike, required: Iterable[str]) -> pd.DataFrame:
    """A published table (config/published/*.csv) with its `required` columns."""
    return read_csvs([path], required=required)


def method_order(names: Iterable[str]) -> list[str]:
    """The registry's order (Patch2Loc, DAE, Thresh), then any other name alphabetically."""
    names = set(names)
    return [m for m in METHODS if m in names] + sorted(names - set(METHODS))


def own_input(frame: pd.DataFrame) -> pd.Series:
    """True where a row's model input is its dataset's own contrast (the paper's single-contrast row)."""
    return frame["modality"] == frame["dataset"].map(lambda d: MODALITIES.get(d, ("",))[0])


def by_input(frame: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """Rows split by model input, never pooled: those of each set's own contrast first (name None: the
    paper's), then one part per other input that scored a set (a T1 model on BraTS21, a T1T2 stack)."""
    own = own_input(frame)
    first = [(None, frame[own])] if own.any() else []
    return first + [(str(name), part) for name, part in frame[~own].groupby("modality", sort=True)]


def rows_by_input(method: str, group: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """A method's row of each dataset's own contrast (the paper's: the single-contrast row), then one row
    per other model input that scored a set, named "method [input]" (e.g. a T1T2 model, docs/multimodal.md)."""
    return [(method if name is None else f"{method} [{name}]", part) for name, part in by_input(group)]

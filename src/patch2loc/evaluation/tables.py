"""Table 1 and Table 2 of the paper: our numbers aggregated over folds, published numbers beside.

Every method this harness ran (Patch2Loc, DAE, Thresh, ...) has rows with source "this harness",
above the published rows (source "published"), which another harness computed on other test
subsets and preprocessing (`captions.PUBLISHED_NOTE`, in every caption).

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

from patch2loc.evaluation.uncertainty import Bootstrap, add_intervals, format_interval, interval_columns
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
PUBLISHED1_COLUMNS = ("method", "dataset", "dice_mean", "dice_std", "auprc_mean", "auprc_std")
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


def _read_published(path: str | os.PathLike, required: Iterable[str]) -> pd.DataFrame:
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
    published = None if published_csv is None else _read_published(published_csv, PUBLISHED1_COLUMNS)
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

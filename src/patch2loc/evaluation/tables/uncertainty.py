"""Uncertainty of the tables' numbers: subject-level bootstrap intervals, paired tests, Holm.

- The unit of resampling is the test subject. A run scores the same test subjects with every fold's
  model, so the (fold, volume) rows are not independent draws: resampling them would count each
  subject once per fold and shrink the interval by about the square root of the number of folds.
  Each subject's value is therefore its mean over folds (`subject_means`), and those are resampled.
  What such an interval covers is the choice of test subjects; it does not cover training variation
  (another training set, another seed), which the folds' spread shows.
- Intervals are percentile bootstrap intervals (Efron and Tibshirani 1993, ch. 13) computed with
  `scipy.stats.bootstrap` (method "percentile", or "BCa" on request), seeded per cell from the
  configured seed and the cell's name, so a cell's interval does not depend on the other cells.
- Paired tests: the Wilcoxon signed-rank test (`scipy.stats.wilcoxon`, two-sided, zero differences
  dropped as Wilcoxon did) on per-subject paired values; p-values adjusted with Holm's step-down
  procedure (Holm 1979), written out here (statsmodels is not a dependency).
- AUROC and AUPRC of two groups of volumes (Table 4): AUROC as the Mann-Whitney probability
  P(pos > neg) + P(pos = neg) / 2; AUPRC as average precision, sum over distinct scores of
  (recall step) x precision, the estimator of scikit-learn's `average_precision_score`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from patch2loc.errors import InputError


@dataclass(frozen=True)
class Bootstrap:
    """config `evaluate.bootstrap`: resamples, seed, level and method of every interval."""

    resamples: int = 2000
    seed: int = 0
    level: float = 0.95
    method: str = "percentile"  # or "BCa"

    @classmethod
    def from_config(cls, block: dict | None) -> "Bootstrap":
        block = dict(block or {})
        unknown = set(block) - {"resamples", "seed", "level", "method"}
        if unknown:
            raise InputError(f"config evaluate.bootstrap: unknown keys {sorted(unknown)}; known: resamples, seed.")
        return cls(**block)

    def rng(self, *key) -> np.random.Generator:
        """A generator for one cell: the seed and the cell's name (order-independent across cells)."""
        return np.random.default_rng([self.seed, zlib.crc32("\t".join(map(str, key)).encode())])


def bootstrap_interval(values, boot: Bootstrap, *key, statistic=np.mean) -> tuple[float, float]:
    """The `boot.level` interval of `statistic` of the values (NaN dropped) resampled with replacement;
    (nan, nan) with fewer than two values or when every value is the same (no spread to resample)."""
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return np.nan, np.nan
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    res = stats.bootstrap(
        (values,),
        statistic,
        n_resamples=boot.resamples,
        confidence_level=boot.level,
        method=boot.method,
        vectorized=True,
        axis=-1,
        rng=boot.rng(*key),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def fold_keys(folds: pd.Series) -> pd.Series:
    """Folds as text, '' for a method without folds (NaN in metrics.csv; pandas 3 keeps NaN in astype(str))."""
    return folds.map(lambda f: "" if pd.isna(f) else str(f))


def subject_means(metrics: pd.DataFrame, column: str, keys) -> pd.DataFrame:
    """Per (keys, subject): the mean of `column` over folds (NaN values skipped, subjects without
    any finite value dropped)."""
    keys = list(keys)
    data = metrics.assign(subject=metrics["subject"].astype(str))
    out = data.groupby([*keys, "subject"], dropna=False, sort=False)[column].mean().reset_index()
    return out[np.isfinite(out[column].astype(float))]


def add_intervals(agg: pd.DataFrame, metrics: pd.DataFrame, boot: Bootstrap) -> pd.DataFrame:
    """`aggregate.aggregate_folds`' rows (keys + metric, mean, std, n_folds, n_volumes) with `low`,
    `high` and `n_subjects`: the bootstrap interval of the mean over subjects' fold-means."""
    keys = [k for k in ("method", "dataset", "modality", "region") if k in agg.columns]
    rows = []
    for metric, part in agg.groupby("metric", sort=False):
        per_subject = subject_means(metrics, metric, keys)
        groups = dict(iter(per_subject.groupby(keys, dropna=False, sort=False)))
        for rec in part.itertuples():
            key = tuple(getattr(rec, k) for k in keys)
            values = groups.get(key, pd.DataFrame({metric: []}))[metric]
            low, high = bootstrap_interval(values, boot, *key, metric)
            rows.append({"_row": rec.Index, "low": low, "high": high, "n_subjects": len(values)})
    extra = pd.DataFrame(rows, columns=["_row", "low", "high", "n_subjects"]).set_index("_row")
    return agg.join(extra)


def format_interval(mean, low, high, *, scale: float = 100.0, decimals: int = 2) -> str:
    """'59.50 [57.10, 61.80]' (times `scale`); the mean alone without an interval; '' without a mean."""
    if mean is None or pd.isna(mean):
        return ""
    text = f"{mean * scale:.{decimals}f}"
    if low is not None and high is not None and not (pd.isna(low) or pd.isna(high)):
        text += f" [{low * scale:.{decimals}f}, {high * scale:.{decimals}f}]"
    return text


def interval_columns(agg: pd.DataFrame, keys) -> pd.DataFrame:
    """Wide numeric intervals: one row per keys (the combinations present), columns `<metric>`,
    `<metric>_low`, `<metric>_high`, `<metric>_std` (over folds) and `n_subjects` (the most over the
    metrics; fractions as in metrics.csv)."""
    keys = list(keys)
    wide = agg.set_index([*keys, "metric"])[["mean", "low", "high", "std"]].unstack("metric")
    out = pd.DataFrame(index=wide.index)
    for metric in dict.fromkeys(agg["metric"]):
        out[metric] = wide[("mean", metric)]
        for part in ("low", "high", "std"):
            out[f"{metric}_{part}"] = wide[(part, metric)]
    out["n_subjects"] = agg.groupby(keys, dropna=False)["n_subjects"].max().astype(int)
    return out.reset_index()


# ---------------------------------------------------------------- paired tests
def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values: sorted ascending, p_(i) times (m - i), running maximum,
    capped at 1; NaN p-values are left out of the family and stay NaN."""
    p = np.asarray(pvalues, float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    order = finite[np.argsort(p[finite], kind="stable")]
    m = len(order)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order]) if m else np.array([])
    out[order] = np.minimum(adjusted, 1.0)
    return out


def paired_test(a, b, boot: Bootstrap, *key) -> dict:
    """Wilcoxon signed-rank test of a - b (paired by position) and the median difference with its
    bootstrap interval; pairs with a NaN are dropped."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    keep = np.isfinite(a) & np.isfinite(b)
    diff = a[keep] - b[keep]
    out = {"pairs": int(keep.sum()), "median_diff": float(np.median(diff)) if len(diff) else np.nan}
    out["median_diff_low"], out["median_diff_high"] = bootstrap_interval(diff, boot, *key, statistic=np.median)
    if len(diff) == 0 or np.all(diff == 0):
        out["statistic"], out["p"] = np.nan, np.nan  # nothing to rank
    else:
        res = stats.wilcoxon(diff, zero_method="wilcox", alternative="two-sided")
        out["statistic"], out["p"] = float(res.statistic), float(res.pvalue)
    return out


# ---------------------------------------------------------------- two groups of volumes (Table 4)
def auroc(neg, pos) -> float:
    """P(pos > neg) + P(pos = neg) / 2 from the ranks of the pooled scores (Mann-Whitney U / (n m))."""
    neg, pos = np.asarray(neg, float), np.asarray(pos, float)
    ranks = stats.rankdata(np.concatenate([neg, pos]))
    u = ranks[len(neg) :].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(neg) * len(pos)))


def average_precision(neg, pos) -> float:
    """Average precision with the positives `pos`: sum over distinct scores, highest first, of the
    recall gained there times the precision there (ties count together)."""
    scores = np.concatenate([np.asarray(pos, float), np.asarray(neg, float)])
    labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))])
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(scores) != 0), len(scores) - 1]  # last index of each distinct score
    tp = np.cumsum(labels)[last]
    precision = tp / (last + 1)
    recall_step = np.diff(np.r_[0.0, tp]) / len(pos)
    return float(np.sum(recall_step * precision))


def detection_interval(neg: np.ndarray, pos: np.ndarray, measure, boot: Bootstrap, *key) -> tuple[float, float, float]:
    """`measure(neg, pos)` averaged over folds, and its bootstrap interval: neg [folds, healthy] and pos
    [folds, lesion volumes] hold each subject's score under each fold's model; healthy and lesion
    subjects are resampled separately (stratified), the same draw for every fold."""
    neg, pos = np.atleast_2d(neg), np.atleast_2d(pos)
    point = float(np.mean([measure(n, p) for n, p in zip(neg, pos)]))
    if neg.shape[1] < 2 or pos.shape[1] < 2:
        return point, np.nan, np.nan
    rng = boot.rng(*key)
    draws = np.empty(boot.resamples)
    for i in range(boot.resamples):
        ni = rng.integers(0, neg.shape[1], neg.shape[1])
        pi = rng.integers(0, pos.shape[1], pos.shape[1])
        draws[i] = np.mean([measure(n[ni], p[pi]) for n, p in zip(neg, pos)])
    alpha = (1 - boot.level) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return point, float(low), float(high)

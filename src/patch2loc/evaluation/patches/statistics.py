"""Patch-level analysis of the heatmaps (paper §5.2, Fig. 2, 3, 6 and Table 2).

Each axial slice is cut into a grid of non-overlapping P x P patches (the paper's), or of
overlapping ones every `stride` pixels (`evaluate.patches.stride`), which holds the non-overlapping
grid. A patch is described by its centre voxel, so the heatmap values read at that voxel are exactly
the model's output for that patch (the dense heatmap scores every voxel as a patch centre; with a
heatmap stride, an even patch stride keeps to the centres it ran). Patches are then called normal
(< 10 % lesion), abnormal (> 90 % lesion) or mixed (10-90 %) (`classify`: the paper's definition;
the figures may state their own, `patches.classes`), and on the mixed patches of the non-overlapping
grid the Spearman correlation of the lesion fraction with log-error, log-variance and score is
computed (Table 2, the paper's definition in every config).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from patch2loc.errors import InputError
from patch2loc.evaluation.patches.classes import PatchClasses, classify

SCORE_COLUMNS = ("log_error", "log_variance", "score")
# What Table 2 reads of a patch table (rule table2 reads only these, one file at a time).
TABLE2_COLUMNS = ("method", "dataset", "modality", "fold", "lesion_fraction", "paper_grid", *SCORE_COLUMNS)


def _check_shape(name: str, arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.shape != shape:
        raise InputError(
            f"patch_statistics: {name} has shape {arr.shape}, expected {shape} like log_error. "
            "Pass maps of the same scan and preprocessing (dense heatmap, not a resampled copy)."
        )
    return arr


def _patch_means(vol: np.ndarray, patch_size: int, starts_x: np.ndarray, starts_y: np.ndarray) -> np.ndarray:
    """Mean of the P x P patch at each (start x, start y) per slice -> [n_x, n_y, Z]; pixels past the
    border count as 0. Integer counts over P^2, the same floats as a block mean of a 0/1 volume."""
    x, y, z = vol.shape
    h, w = int(starts_x.max(initial=0)) + patch_size, int(starts_y.max(initial=0)) + patch_size
    counts = np.zeros((max(h, x) + 1, max(w, y) + 1, z), dtype=np.int64)
    counts[1 : x + 1, 1 : y + 1] = vol
    counts = counts.cumsum(axis=0).cumsum(axis=1)  # counts[a, b] = pixels in [0, a) x [0, b)
    x0, y0 = starts_x[:, None], starts_y[None, :]
    x1, y1 = x0 + patch_size, y0 + patch_size
    inside = counts[x1, y1] - counts[x0, y1] - counts[x1, y0] + counts[x0, y0]
    return inside / float(patch_size * patch_size)


def patch_statistics(
    log_error: np.ndarray,
    log_variance: np.ndarray,
    score: np.ndarray,
    seg: np.ndarray | None,
    brain_mask: np.ndarray,
    patch_size: int,
    *,
    mean: np.ndarray | None = None,
    logvar: np.ndarray | None = None,
    meta: dict[str, Any],
    stride: int | None = None,
) -> pd.DataFrame:
    """One row per grid patch whose centre voxel is inside the brain.

    All maps are [X, Y, Z] from the dense (not median-filtered) heatmap. The grid starts at pixel
    0 of each axis; patch i covers rows i*S .. i*S+P-1 and is centred at row i*S + P//2 (the
    architecture's centring rule), S = `stride` (None: P, non-overlapping patches). A last partial
    patch at the border is zero padded, as the model saw it, and kept only if its centre lies inside
    the slice. Columns: lesion and brain fraction, `centre_lesion` (the centre voxel is lesion) and
    `paper_grid` (the patch is one of the non-overlapping grid's, which every stride dividing P holds).
    `seg=None` (healthy scans) gives lesion_fraction 0. `mean`/`logvar` are the model's [X, Y, Z, 2]
    outputs (percent coordinates, log-variances); when given, mu_x, mu_y, s_x, s_y and the true
    target_x, target_y are added. `meta` (dataset, modality, fold, subject) is repeated on every row.
    """
    if not isinstance(meta, dict):
        raise TypeError("meta must be a dict such as {'dataset': ..., 'modality': ..., 'fold': ..., 'subject': ...}")
    log_error = np.asarray(log_error)
    if log_error.ndim != 3:
        raise InputError(f"patch_statistics: log_error must be a 3D [X, Y, Z] map, got shape {log_error.shape}.")
    shape = log_error.shape
    log_variance = _check_shape("log_variance", log_variance, shape)
    score = _check_shape("score", score, shape)
    brain = _check_shape("brain_mask", brain_mask, shape) > 0
    lesion = np.zeros(shape, bool) if seg is None else _check_shape("seg", seg, shape) > 0
    if (mean is None) != (logvar is None):
        raise InputError("patch_statistics: pass both mean and logvar (or neither).")
    if mean is not None:
        mean = _check_shape("mean", mean, shape + (2,))
        logvar = _check_shape("logvar", logvar, shape + (2,))
    p = int(patch_size)
    step = p if stride is None else int(stride)
    if p < 1 or step < 1:
        raise InputError(f"patch_statistics: patch_size and stride must be >= 1, got {patch_size}, {stride}.")

    x_size, y_size, _ = shape
    half = p // 2
    rows = np.arange(half, x_size, step)  # centre row of each grid patch (< X by construction)
    cols = np.arange(half, y_size, step)

    lesion_frac = _patch_means(lesion, p, rows - half, cols - half)
    brain_frac = _patch_means(brain, p, rows - half, cols - half)
    # Index [i, j, z] of every grid patch whose centre voxel is in the brain.
    ii, jj, zz = np.nonzero(brain[np.ix_(rows, cols)])
    r, c = rows[ii], cols[jj]

    data: dict[str, Any] = {key: value for key, value in meta.items()}
    data.update(
        {
            "z": zz,
            "x": r,
            "y": c,
            "lesion_fraction": lesion_frac[ii, jj, zz],
            "brain_fraction": brain_frac[ii, jj, zz],
            "centre_lesion": lesion[r, c, zz],
            "paper_grid": ((r - half) % p == 0) & ((c - half) % p == 0),
            "log_error": log_error[r, c, zz].astype(np.float64),
            "log_variance": log_variance[r, c, zz].astype(np.float64),
            "score": score[r, c, zz].astype(np.float64),
        }
    )
    if mean is not None:
        data.update(_gaussians(mean, logvar, r, c, zz, shape))
    return pd.DataFrame(data, index=pd.RangeIndex(len(zz)))


def _gaussians(mean: np.ndarray, logvar: np.ndarray, r, c, zz, shape) -> dict[str, np.ndarray]:
    """The predicted Gaussian (mu_x, mu_y, s_x, s_y) and the true location (percent) of each patch."""
    return {
        "mu_x": mean[r, c, zz, 0].astype(np.float64),
        "mu_y": mean[r, c, zz, 1].astype(np.float64),
        "s_x": logvar[r, c, zz, 0].astype(np.float64),
        "s_y": logvar[r, c, zz, 1].astype(np.float64),
        "target_x": 100.0 * r / shape[0],
        "target_y": 100.0 * c / shape[1],
    }


def _fold_groups(patches: pd.DataFrame) -> list[str]:
    return [k for k in ("method", "dataset", "modality") if k in patches.columns]


def spearman_per_fold(patches: pd.DataFrame) -> pd.DataFrame:
    """Spearman rho of lesion fraction vs each of log_error, log_variance, score on mixed patches
    of the non-overlapping grid (`paper_grid`; a table without the column: every row).

    One row per ([method,] dataset, [modality,] fold, metric) with rho and the number of mixed
    patches n. A missing fold (NaN) is one group. rho is NaN when fewer than 3 mixed patches exist
    or an input is constant. A map a method does not have (all NaN: log-error and log-variance of
    the DAE and Thresh) gives no row.
    """
    missing = {"dataset", "lesion_fraction", *SCORE_COLUMNS} - set(patches.columns)
    if missing:
        raise InputError(f"patch table lacks columns {sorted(missing)}; build it with analysis.patch_statistics.")
    on_grid = patches["paper_grid"].astype(bool) if "paper_grid" in patches.columns else True
    patches = patches.assign(mixed_=(classify(patches["lesion_fraction"]) == "mixed") & on_grid)
    if "fold" not in patches.columns:
        patches["fold"] = np.nan
    keys = _fold_groups(patches) + ["fold"]
    out = []
    for key, group in patches.groupby(keys, dropna=False, sort=True):
        part = group[group["mixed_"]]
        for metric in SCORE_COLUMNS:
            if group[metric].isna().all():
                continue
            rho = np.nan
            if len(part) >= 3:
                with warnings.catch_warnings():  # constant input: rho is NaN, said in the docstring
                    warnings.simplefilter("ignore")
                    rho = float(spearmanr(part["lesion_fraction"], part[metric]).statistic)
            out.append({**dict(zip(keys, key)), "metric": metric, "rho": rho, "n": len(part)})
    return pd.DataFrame(out, columns=keys + ["metric", "rho", "n"])


def spearman_table(patches: pd.DataFrame, *, ddof: int = 1) -> pd.DataFrame:
    """Spearman rho per dataset: per fold, then mean +- std over folds (std with `ddof`).

    Columns: dataset, [modality,] metric, rho_mean, rho_std (NaN with one fold), n_folds,
    n_patches (mixed patches over all folds). rho is a fraction in [-1, 1].
    """
    return summarise_spearman(spearman_per_fold(patches), ddof=ddof)


def summarise_spearman(per_fold: pd.DataFrame, *, ddof: int = 1) -> pd.DataFrame:
    """spearman_table from spearman_per_fold rows, which may come from one patch file at a time
    (each file is one (dataset, modality, fold)), so no step needs every patch in memory."""
    keys = [k for k in ("method", "dataset", "modality") if k in per_fold.columns] + ["metric"]
    agg = per_fold.groupby(keys, sort=False).agg(
        rho_mean=("rho", "mean"),
        rho_std=("rho", lambda v: v.std(ddof=ddof) if v.notna().sum() > ddof else np.nan),
        n_folds=("rho", "size"),
        n_patches=("n", "sum"),
    )
    return agg.reset_index()


def location_counts(patches: pd.DataFrame, classes: PatchClasses = PatchClasses()) -> pd.DataFrame:
    """Normal and abnormal patches (by `classes`) per grid location (z, x, y); tables of several
    chunks add up."""
    cls = classes.of(patches)
    counts = pd.DataFrame(
        {
            "z": patches["z"],
            "x": patches["x"],
            "y": patches["y"],
            "normal": cls == "normal",
            "abnormal": cls == "abnormal",
        }
    )
    return counts.groupby(["z", "x", "y"]).sum()


def best_location(counts: pd.DataFrame) -> tuple[int, int, int]:
    """The location of `location_counts` that maximises min(#normal, #abnormal), ties broken by
    the total count, then by the lowest (z, x, y)."""
    both = counts[["normal", "abnormal"]].min(axis=1)
    ranked = pd.DataFrame({"both": both, "total": counts["normal"] + counts["abnormal"]}).sort_index()
    best = ranked.sort_values(["both", "total"], ascending=False, kind="stable").index[0]
    return int(best[0]), int(best[1]), int(best[2])


def location_with_both(patches: pd.DataFrame, classes: PatchClasses = PatchClasses()) -> tuple[int, int, int]:
    """The grid location (z, x, y) with the most normal AND abnormal patches across subjects.

    Picks the location for the Fig. 2 ellipse plot (`best_location`).
    """
    if patches.empty:
        raise InputError("location_with_both: the patch table is empty; no location to pick.")
    return best_location(location_counts(patches, classes))

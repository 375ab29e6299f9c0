"""The paper's figures, one PNG per function, in one style.

- `kde_figure`: Fig. 3 / 6, KDEs of log-error, log-variance, score (normal vs abnormal patches)
  and the 2D KDE of (log-error, log-variance).
- `heatmap_panel`: Fig. 4 / 5, slice | score heatmap on the fixed [0, 12] scale | ground truth.
- `ellipse_figure`: Fig. 2, predicted Gaussians (1-sigma ellipses) of patches from one location.
- `loss_curves`: training and validation curves of the models.

Figures are drawn on a bare `matplotlib.figure.Figure` with the Agg canvas (no pyplot state, no
display needed) and saved through `atomic_output`. Slices [X, Y] are shown transposed with the
origin at the bottom, so the horizontal axis is X and the vertical axis is Y everywhere,
including the ellipse plot's percent coordinates.
"""
from __future__ import annotations

import os
from typing import Iterable, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse, Patch

from patch2loc.evaluation.patch_statistics import classify
from patch2loc.io import InputError, atomic_output

STYLE = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.spines.top": False, "axes.spines.right": False,
    "savefig.dpi": 150, "savefig.facecolor": "white",
}
COLOURS = {"normal": "#1f77b4", "abnormal": "#d62728", "mixed": "#7f7f7f"}
CLASS_LABELS = {"normal": "normal (<10% lesion)", "abnormal": "abnormal (>90% lesion)"}
SCORE_RANGE = (0.0, 12.0)  # the paper's fixed colour scale
HEATMAP_CMAP = "inferno"
AXIS_LABELS = {"log_error": "log-error  log(‖Y − μ‖² + ε)", "log_variance": "log-variance  (s₁ + s₂)/2",
               "score": "score (log-error + log-variance)"}


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out_png: str | os.PathLike) -> None:
    with atomic_output(out_png) as tmp:
        fig.savefig(tmp, format="png")


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9,
            color="0.3", wrap=True)


def _classes(patches: pd.DataFrame) -> np.ndarray:
    if "lesion_fraction" not in patches.columns:
        raise InputError("patch table lacks 'lesion_fraction'; build it with analysis.patch_statistics.")
    return classify(patches["lesion_fraction"].to_numpy())


def _range(values: Iterable[np.ndarray]) -> tuple[float, float]:
    """Plot range covering the 0.5-99.5 percentiles of every class (a small class must not be
    cut off by a large one), with a margin."""
    bounds = [np.percentile(v, [0.5, 99.5]) for v in values if len(v)] or [np.zeros(2)]
    lo, hi = min(b[0] for b in bounds), max(b[1] for b in bounds)
    pad = 0.1 * (hi - lo) if hi > lo else 1.0
    return float(lo - pad), float(hi + pad)


def _kde_1d(ax, values: np.ndarray, grid: np.ndarray, colour: str) -> None:
    """Gaussian KDE, or a density histogram when the KDE is impossible (< 3 or identical points)."""
    from scipy.stats import gaussian_kde

    if len(values) >= 3 and np.ptp(values) > 0:
        try:
            density = gaussian_kde(values)(grid)
            ax.plot(grid, density, color=colour, lw=1.6)
            ax.fill_between(grid, density, color=colour, alpha=0.2)
            return
        except np.linalg.LinAlgError:
            pass
    ax.hist(values, bins=max(1, min(10, len(values))), range=(grid[0], grid[-1]), density=True,
            histtype="step", color=colour, lw=1.6, ls="--")  # dashed: histogram, too few points


def _kde_2d(ax, x: np.ndarray, y: np.ndarray, xlim, ylim, colour: str) -> bool:
    """Filled 2D KDE contours; scatter when the KDE is impossible. Returns True if drawn as KDE."""
    from scipy.stats import gaussian_kde

    if len(x) >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
        try:
            kde = gaussian_kde(np.vstack([x, y]))
            gx, gy = np.meshgrid(np.linspace(*xlim, 80), np.linspace(*ylim, 80))
            dens = kde(np.vstack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
            levels = dens.max() * np.array([0.05, 0.2, 0.4, 0.6, 0.8, 1.0])
            ax.contourf(gx, gy, dens, levels=levels, colors=[colour], alpha=0.15)
            ax.contour(gx, gy, dens, levels=levels[:-1], colors=[colour], linewidths=0.9)
            return True
        except np.linalg.LinAlgError:
            pass
    ax.scatter(x, y, s=12, color=colour)
    return False


def kde_figure(patches: pd.DataFrame, dataset: str, out_png: str | os.PathLike, *,
               fold: int | None = None, max_points: int = 10000, seed: int = 0,
               counts: dict[str, int] | None = None) -> None:
    """Fig. 3 / 6 for one dataset: 1D KDEs of log-error, log-variance, score and the 2D KDE.

    Normal (< 10 % lesion) vs abnormal (> 90 %) patches, all folds pooled unless `fold` is given.
    At most `max_points` random patches per class enter each KDE (the legend gives the full n:
    `counts` when `patches` is already a sample, see `patch_stream.sample_classes`); a class with
    fewer than 3 points is drawn as a histogram / scatter, an empty one is noted.
    """
    sel = patches[patches["dataset"] == dataset] if "dataset" in patches.columns else patches.iloc[:0]
    if fold is not None:
        sel = sel[sel["fold"] == fold]
    if sel.empty:
        raise InputError(f"kde_figure: no patches for dataset {dataset!r}"
                         + (f" fold {fold}" if fold is not None else "") + "; check the patches.csv inputs.")
    cls = _classes(sel)
    rng = np.random.default_rng(seed)
    picks = {c: rng.permutation(np.flatnonzero(cls == c))[:max_points] for c in ("normal", "abnormal")}
    counts = {c: int((cls == c).sum()) for c in picks} if counts is None else {c: int(counts[c]) for c in picks}

    with matplotlib.rc_context(STYLE):
        fig = _new_figure(15, 4.2)
        axes = fig.subplots(1, 4)
        ranges = {}
        for ax, col in zip(axes[:3], ("log_error", "log_variance", "score")):
            vals = {c: sel[col].to_numpy(np.float64)[idx] for c, idx in picks.items()}
            ranges[col] = _range(vals.values())
            grid = np.linspace(*ranges[col], 256)
            for c, v in vals.items():
                if len(v):
                    _kde_1d(ax, v, grid, COLOURS[c])
            ax.set_xlabel(AXIS_LABELS[col])
            ax.set_ylabel("density")
        ax = axes[3]
        for c, idx in picks.items():
            if len(idx):
                x = sel["log_error"].to_numpy(np.float64)[idx]
                y = sel["log_variance"].to_numpy(np.float64)[idx]
                if not _kde_2d(ax, x, y, ranges["log_error"], ranges["log_variance"], COLOURS[c]):
                    ax.text(0.98, 0.02 + 0.06 * (c == "abnormal"), f"{c}: points (too few for a KDE)",
                            transform=ax.transAxes, ha="right", fontsize=7, color=COLOURS[c])
        ax.set_title("joint density")
        axes[0].set_title("log-error")
        axes[1].set_title("log-variance")
        axes[2].set_title("score")
        ax.set_xlim(ranges["log_error"])
        ax.set_ylim(ranges["log_variance"])
        ax.set_xlabel(AXIS_LABELS["log_error"])
        ax.set_ylabel(AXIS_LABELS["log_variance"])
        handles = [Line2D([], [], color=COLOURS[c], lw=2, label=f"{CLASS_LABELS[c]}, n = {counts[c]}")
                   for c in picks if counts[c]]
        if max(counts.values()) > max_points:
            handles.append(Line2D([], [], ls="", label=f"(KDEs from at most {max_points} random patches per class)"))
        fig.legend(handles=handles, loc="outside lower center", ncols=max(1, len(handles)), frameon=False)
        for ax in axes:
            missing = [c for c in picks if counts[c] == 0]
            if missing:
                ax.text(0.02, 0.98, "no " + " / ".join(missing) + " patches", transform=ax.transAxes,
                        va="top", fontsize=8, color="0.3")
        title = f"{dataset}: normal vs abnormal patches"
        if fold is not None:
            title += f" (fold {fold})"
        fig.suptitle(title)
        _save(fig, out_png)


def pick_slice(seg: np.ndarray | None, brain_mask: np.ndarray | None = None) -> int:
    """Axial slice to show: most lesion voxels; without lesion, the middle of the brain's extent."""
    if seg is not None and np.any(seg):
        return int(np.argmax(np.asarray(seg > 0).sum(axis=(0, 1))))
    ref = brain_mask if brain_mask is not None else seg
    if ref is None:
        raise InputError("pick_slice: pass a lesion mask or a brain mask [X, Y, Z].")
    slices = np.flatnonzero(np.asarray(ref > 0).any(axis=(0, 1)))
    if len(slices) == 0:
        return ref.shape[2] // 2
    return int((slices[0] + slices[-1]) // 2)


HeatmapRow = tuple[str, np.ndarray, np.ndarray, "np.ndarray | None"]


def heatmap_panel(rows: Sequence[HeatmapRow], out_png: str | os.PathLike, *,
                  vmin: float = SCORE_RANGE[0], vmax: float = SCORE_RANGE[1]) -> None:
    """Fig. 4 / 5: per row (title, image2d, score2d, seg2d or None) the slice, the heatmap on a
    fixed colour scale (default [0, 12], one colour bar) and the ground-truth outline."""
    if not rows:
        raise InputError("heatmap_panel: no rows to draw; pass at least one (title, image, score, seg).")
    for title, image, score, seg in rows:
        shapes = {np.shape(image), np.shape(score)} | ({np.shape(seg)} if seg is not None else set())
        if len(shapes) != 1 or np.ndim(image) != 2:
            raise InputError(f"heatmap_panel: row {title!r} has 2D arrays of different shapes {sorted(shapes)}; "
                             "pass one axial slice of the image, score and seg (same z).")
    with matplotlib.rc_context(STYLE):
        fig = _new_figure(8.6, 2.7 * len(rows) + 0.3)
        axes = np.atleast_2d(fig.subplots(len(rows), 3))
        heat = None
        for r, (title, image, score, seg) in enumerate(rows):
            image, score = np.asarray(image, np.float64).T, np.asarray(score, np.float64).T
            ax_img, ax_heat, ax_gt = axes[r]
            ax_img.imshow(image, cmap="gray", origin="lower")
            heat = ax_heat.imshow(score, cmap=HEATMAP_CMAP, vmin=vmin, vmax=vmax, origin="lower")
            ax_gt.imshow(image, cmap="gray", origin="lower")
            if seg is not None and np.any(seg):
                ax_gt.contour(np.asarray(seg > 0, np.float64).T, levels=[0.5], colors=["#00e5ff"], linewidths=1.2)
            else:
                ax_gt.text(0.5, 0.04, "no lesion" if seg is not None else "healthy (no segmentation)",
                           transform=ax_gt.transAxes, ha="center", va="bottom", color="white", fontsize=8)
            for ax in (ax_img, ax_heat, ax_gt):
                ax.set_xticks([])
                ax.set_yticks([])
            ax_img.set_ylabel(title)
        for ax, name in zip(axes[0], ("MRI slice", "Patch2Loc score", "ground truth (outline)")):
            ax.set_title(name)
        fig.colorbar(heat, ax=axes[:, 1].tolist(), label=f"score (fixed scale [{vmin:g}, {vmax:g}])",
                     shrink=0.7 if len(rows) > 1 else 0.9, aspect=15 * min(len(rows), 3), extend="both")
        _save(fig, out_png)


def ellipse_figure(patches: pd.DataFrame, out_png: str | os.PathLike, *, max_per_class: int = 60,
                   seed: int = 0) -> None:
    """Fig. 2: predicted Gaussians of patches from one grid location across subjects.

    Each patch is drawn as its 1-sigma ellipse (centre mu, half-axes exp(s/2); the model's
    covariance is diagonal), normal and abnormal patches in two panels on the same axes, the
    true location marked by a star. Mixed patches (10-90 % lesion) are left out.
    """
    need = {"mu_x", "mu_y", "s_x", "s_y", "target_x", "target_y", "lesion_fraction"}
    if need - set(patches.columns):
        raise InputError(f"ellipse_figure: patch table lacks {sorted(need - set(patches.columns))}; "
                         "call analysis.patch_statistics with mean= and logvar=.")
    if patches.empty:
        raise InputError("ellipse_figure: no patches given; select one location with rows from several subjects.")
    cls = _classes(patches)
    rng = np.random.default_rng(seed)
    targets = patches[["target_x", "target_y"]].drop_duplicates().to_numpy()
    with matplotlib.rc_context(STYLE):
        fig = _new_figure(9, 4.6)
        axes = fig.subplots(1, 2, sharex=True, sharey=True)
        drawn = []
        for ax, c in zip(axes, ("normal", "abnormal")):
            idx = np.flatnonzero(cls == c)
            shown = rng.permutation(idx)[:max_per_class]
            for rec in patches.iloc[shown].itertuples():
                ax.add_patch(Ellipse((rec.mu_x, rec.mu_y), 2 * np.exp(rec.s_x / 2), 2 * np.exp(rec.s_y / 2),
                                     facecolor=COLOURS[c], edgecolor=COLOURS[c], alpha=0.15, lw=0.8))
            sub = patches.iloc[shown]
            ax.scatter(sub["mu_x"], sub["mu_y"], s=8, color=COLOURS[c], zorder=3)
            ax.scatter(targets[:, 0], targets[:, 1], marker="*", s=150, color="gold", edgecolor="black",
                       zorder=4)
            count = f"{len(shown)} of {len(idx)} shown" if len(idx) > len(shown) else f"n = {len(idx)}"
            ax.set_title(f"{CLASS_LABELS[c]}, {count}")
            if len(idx) == 0:
                _note(ax, f"no {c} patches at this location")
            ax.set_xlabel("x position (% of slice)")
            ax.set_aspect("equal", adjustable="box")
            drawn.append(sub)
        # One square view for both panels that holds every drawn ellipse and the true location.
        shown_all = pd.concat(drawn)
        rx, ry = np.exp(shown_all["s_x"] / 2), np.exp(shown_all["s_y"] / 2)
        lo = np.array([np.min(np.r_[shown_all["mu_x"] - rx, targets[:, 0]]),
                       np.min(np.r_[shown_all["mu_y"] - ry, targets[:, 1]])])
        hi = np.array([np.max(np.r_[shown_all["mu_x"] + rx, targets[:, 0]]),
                       np.max(np.r_[shown_all["mu_y"] + ry, targets[:, 1]])])
        centre, half = (lo + hi) / 2, max(float(np.max(hi - lo)) / 2 * 1.08, 1.0)
        axes[0].set_xlim(centre[0] - half, centre[0] + half)
        axes[0].set_ylim(centre[1] - half, centre[1] + half)
        axes[0].set_ylabel("y position (% of slice)")
        handles = [Patch(facecolor=COLOURS[c], alpha=0.4, edgecolor=COLOURS[c], label=f"{c}: mean and 1σ ellipse")
                   for c in ("normal", "abnormal")]
        handles.append(Line2D([], [], marker="*", ls="", ms=12, color="gold", markeredgecolor="black",
                              label="true location"))
        fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
        _save(fig, out_png)


LOSS_COLUMNS = ("step", "train_loss", "val_loss", "val_error", "centre_error")


def loss_curves(loss_csvs: dict[str, str | os.PathLike], out_png: str | os.PathLike) -> None:
    """Training curves of several models (e.g. 'T2 fold0' -> loss.csv): beta-NLL loss (train
    solid, validation dashed) and validation location error vs the 'predict the centre' baseline."""
    if not loss_csvs:
        raise InputError("loss_curves: no loss.csv files given.")
    curves = {}
    for label, path in loss_csvs.items():
        if not os.path.exists(path):
            raise InputError(f"{path}: loss curve not found. Train the model ({label}) first.")
        df = pd.read_csv(path)
        missing = set(LOSS_COLUMNS) - set(df.columns)
        if missing:
            raise InputError(f"{path}: missing columns {sorted(missing)}; it is not a patch2loc loss.csv.")
        curves[label] = df
    with matplotlib.rc_context(STYLE):
        fig = _new_figure(12, 4)
        ax_loss, ax_err = fig.subplots(1, 2)
        colours = matplotlib.colormaps["tab10"]
        model_handles = []
        for i, (label, df) in enumerate(curves.items()):
            colour = colours(i % 10)
            tr = df[["step", "train_loss"]].dropna()
            va = df[["step", "val_loss"]].dropna()
            ax_loss.plot(tr["step"], tr["train_loss"], color=colour, lw=0.8, alpha=0.7)
            ax_loss.plot(va["step"], va["val_loss"], color=colour, lw=1.6, ls="--")
            err = df[["step", "val_error", "centre_error"]].dropna()
            ax_err.plot(err["step"], err["val_error"], color=colour, lw=1.6)
            ax_err.plot(err["step"], err["centre_error"], color=colour, lw=1.0, ls=":")
            model_handles.append(Line2D([], [], color=colour, lw=2, label=label))
        ax_loss.set_xlabel("training step")
        ax_loss.set_ylabel("β-NLL loss")
        ax_loss.set_title("loss")
        ax_loss.legend(handles=[Line2D([], [], color="0.3", lw=0.8, label="train"),
                                Line2D([], [], color="0.3", lw=1.6, ls="--", label="validation")],
                       frameon=False, loc="upper right")
        ax_err.set_xlabel("training step")
        ax_err.set_ylabel("mean location error (% of slice)")
        ax_err.set_title("validation location error")
        ax_err.legend(handles=[Line2D([], [], color="0.3", lw=1.6, label="model"),
                               Line2D([], [], color="0.3", lw=1.0, ls=":", label="predict-the-centre baseline")],
                      frameon=False, loc="upper right")
        for ax in (ax_loss, ax_err):
            ax.grid(alpha=0.3)
        fig.legend(handles=model_handles, loc="outside right upper", frameon=False, title="model")
        _save(fig, out_png)


def not_drawn(title: str, reason: str, out_png: str | os.PathLike) -> None:
    """A small PNG saying why a figure could not be drawn (e.g. no abnormal patch in a dataset),
    so that every figure the workflow declares exists and the report says what is missing."""
    fig = _new_figure(5, 1.6)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    _note(ax, f"not drawn: {reason}")
    _save(fig, out_png)

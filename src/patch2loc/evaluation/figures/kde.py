"""Densities of patch scores, normal vs abnormal patches (paper Fig. 3 / 6, and per method).

- `kde_figure`: Patch2Loc's log-error, log-variance and score (1D KDEs) and the 2D KDE of
  (log-error, log-variance), for one dataset.
- `method_kde_figure`: the score of every method of the run side by side (Patch2Loc, DAE,
  Thresh): how far each one pushes abnormal patches above normal ones.
"""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from patch2loc.evaluation.figures.style import COLOURS, STYLE, finite, new_figure, save, value_range
from patch2loc.evaluation.patches.classes import PatchClasses
from patch2loc.errors import InputError

AXIS_LABELS = {
    "log_error": "log-error  log(‖Y − μ‖² + ε)",
    "log_variance": "log-variance  (s₁ + s₂)/2",
    "score": "score (log-error + log-variance)",
}


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
    ax.hist(
        values,
        bins=max(1, min(10, len(values))),
        range=(grid[0], grid[-1]),
        density=True,
        histtype="step",
        color=colour,
        lw=1.6,
        ls="--",
    )  # dashed: histogram, too few points


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


def kde_figure(
    patches: pd.DataFrame,
    dataset: str,
    out_png: str | os.PathLike,
    *,
    fold: int | None = None,
    max_points: int = 10000,
    seed: int = 0,
    counts: dict[str, int] | None = None,
    definition: PatchClasses = PatchClasses(),
) -> None:
    """Fig. 3 / 6 for one dataset: 1D KDEs of log-error, log-variance, score and the 2D KDE.

    Normal vs abnormal patches by `definition` (default the paper's: < 10 % and > 90 % lesion), all
    folds pooled unless `fold` is given. At most `max_points` random patches per class enter each
    KDE (the legend gives the full n: `counts` when `patches` is already a sample, see
    `patches.stream.sample_classes`); a class with fewer than 3 points is drawn as a histogram /
    scatter, an empty one is noted. The PNG records each panel's drawn values per class.
    """
    sel, picks, counts = _sample(patches, dataset, fold, max_points, seed, counts, definition)
    with matplotlib.rc_context(STYLE):
        fig = new_figure(15, 4.4)
        axes = fig.subplots(1, 4)
        ranges, panels = _marginals(axes[:3], sel, picks, definition)
        panels["joint density"] = _joint(axes[3], sel, picks, ranges, definition)
        _legend(fig, picks, counts, max_points, definition)
        missing = [c for c in picks if counts[c] == 0]
        for ax in axes:
            _note_missing(ax, missing)
        title = f"{dataset}: normal vs abnormal patches"
        if fold is not None:
            title += f" (fold {fold})"
        fig.suptitle(f"{title}\n{definition.title(170)}", fontsize=9)
        save(fig, out_png, panels)


def _sample(patches, dataset, fold, max_points, seed, counts, definition):
    """(the dataset's (fold's) rows, at most `max_points` random row indices per class, class counts)."""
    sel = patches[patches["dataset"] == dataset] if "dataset" in patches.columns else patches.iloc[:0]
    if fold is not None:
        sel = sel[sel["fold"] == fold]
    if sel.empty:
        raise InputError(
            f"kde_figure: no patches for dataset {dataset!r}"
            + (f" fold {fold}" if fold is not None else "")
            + "; check the patches.csv inputs."
        )
    cls = definition.of(sel)
    rng = np.random.default_rng(seed)
    picks = {c: rng.permutation(np.flatnonzero(cls == c))[:max_points] for c in ("normal", "abnormal")}
    counts = {c: int((cls == c).sum()) for c in picks} if counts is None else {c: int(counts[c]) for c in picks}
    return sel, picks, counts


def _marginals(axes, sel: pd.DataFrame, picks: dict, definition: PatchClasses) -> tuple[dict, dict]:
    """The 1D KDEs of log-error, log-variance and score: (each column's axis range, each panel's
    finite values per class)."""
    ranges, panels = {}, {}
    for ax, col, title in zip(axes, ("log_error", "log_variance", "score"), ("log-error", "log-variance", "score")):
        vals = {c: sel[col].to_numpy(np.float64)[idx] for c, idx in picks.items()}
        vals = {c: v[np.isfinite(v)] for c, v in vals.items()}
        ranges[col] = value_range(vals.values())
        grid = np.linspace(*ranges[col], 256)
        for c, v in vals.items():
            if len(v):
                _kde_1d(ax, v, grid, COLOURS[c])
        ax.set_xlabel(AXIS_LABELS[col])
        ax.set_ylabel("density")
        ax.set_title(title)
        panels[title] = {definition.label(c): len(v) for c, v in vals.items()}
    return ranges, panels


def _joint(ax, sel: pd.DataFrame, picks: dict, ranges: dict, definition: PatchClasses) -> dict[str, int]:
    """The 2D KDE of (log-error, log-variance), per class; a class too small for it is noted.
    Returns the points drawn per class."""
    drawn = {}
    for c, idx in picks.items():
        x = sel["log_error"].to_numpy(np.float64)[idx]
        y = sel["log_variance"].to_numpy(np.float64)[idx]
        both = np.isfinite(x) & np.isfinite(y)
        x, y = x[both], y[both]
        drawn[definition.label(c)] = len(x)
        if len(x) and not _kde_2d(ax, x, y, ranges["log_error"], ranges["log_variance"], COLOURS[c]):
            ax.text(
                0.98,
                0.02 + 0.06 * (c == "abnormal"),
                f"{c}: points (too few for a KDE)",
                transform=ax.transAxes,
                ha="right",
                fontsize=7,
                color=COLOURS[c],
            )
    ax.set_title("joint density")
    ax.set_xlim(ranges["log_error"])
    ax.set_ylim(ranges["log_variance"])
    ax.set_xlabel(AXIS_LABELS["log_error"])
    ax.set_ylabel(AXIS_LABELS["log_variance"])
    return drawn


def _legend(fig, picks: dict, counts: dict[str, int], max_points: int, definition: PatchClasses) -> None:
    handles = [
        Line2D([], [], color=COLOURS[c], lw=2, label=f"{definition.label(c)}, n = {counts[c]}")
        for c in picks
        if counts[c]
    ]
    if max(counts.values()) > max_points:
        handles.append(Line2D([], [], ls="", label=f"(KDEs from at most {max_points} random patches per class)"))
    fig.legend(handles=handles, loc="outside lower center", ncols=max(1, len(handles)), frameon=False)


def _note_missing(ax, missing: list[str]) -> None:
    """Say on the panel which class has no patches at all."""
    if missing:
        ax.text(
            0.02,
            0.98,
            "no " + " / ".join(missing) + " patches",
            transform=ax.transAxes,
            va="top",
            fontsize=8,
            color="0.3",
        )


def method_kde_figure(
    samples: dict[str, tuple[pd.DataFrame, dict[str, int]]],
    dataset: str,
    out_png: str | os.PathLike,
    *,
    max_points: int = 10000,
    definition: PatchClasses = PatchClasses(),
) -> None:
    """One panel per method: the 1D KDE of its raw score at the centres of normal and abnormal
    patches of `dataset` by `definition` (`samples`: method -> (sampled rows, class counts), as
    `patches.stream.sample_classes` gives them). Each method on its own axis: the scores have
    different units; what compares is how well the two densities separate. The PNG records each
    panel's drawn values per class."""
    if not samples:
        raise InputError(f"method_kde_figure: no method's patches for {dataset!r}; check the patches.csv inputs.")
    panels = {}
    with matplotlib.rc_context(STYLE):
        fig = new_figure(4.2 * len(samples), 3.9)
        axes = np.atleast_1d(fig.subplots(1, len(samples)))
        for ax, (method, (sel, counts)) in zip(axes, samples.items()):
            cls = definition.of(sel)
            vals = {c: sel["score"].to_numpy(np.float64)[cls == c] for c in ("normal", "abnormal")}
            vals = {c: v[np.isfinite(v)][:max_points] for c, v in vals.items()}
            grid = np.linspace(*value_range(vals.values()), 256)
            for c, v in vals.items():
                if len(v):
                    _kde_1d(ax, v, grid, COLOURS[c])
            ax.set_title(f"{method} (n = {counts.get('normal', 0)} / {counts.get('abnormal', 0)})")
            ax.set_xlabel(f"{method} score (raw, at patch centres)")
            ax.set_ylabel("density")
            _note_missing(ax, [c for c in vals if counts.get(c, 0) == 0])
            panels[method] = {definition.label(c): finite(v) for c, v in vals.items()}
        handles = [Line2D([], [], color=COLOURS[c], lw=2, label=definition.label(c)) for c in ("normal", "abnormal")]
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
        fig.suptitle(
            f"{dataset}: score of normal vs abnormal patches, per method (n = normal / abnormal)\n"
            f"{definition.title(140)}",
            fontsize=9,
        )
        save(fig, out_png, panels)

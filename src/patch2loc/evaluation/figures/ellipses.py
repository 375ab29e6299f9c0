"""Fig. 2 of the paper: predicted Gaussians (1-sigma ellipses) of patches from one location, in
the one style of every figure (`style`)."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse, Patch

from patch2loc.evaluation.figures.style import COLOURS, STYLE, new_figure, note, save
from patch2loc.evaluation.patches.classes import PatchClasses
from patch2loc.errors import InputError


def ellipse_figure(
    patches: pd.DataFrame,
    out_png: str | os.PathLike,
    *,
    max_per_class: int = 60,
    seed: int = 0,
    definition: PatchClasses = PatchClasses(),
) -> None:
    """Fig. 2: predicted Gaussians of patches from one grid location across subjects.

    Each patch is drawn as its 1-sigma ellipse (centre mu, half-axes exp(s/2); the model's
    covariance is diagonal), normal and abnormal patches (by `definition`, default the paper's) in
    two panels on the same axes, the true location marked by a star. Mixed patches are left out.
    The PNG records the patches drawn per panel.
    """
    need = {"mu_x", "mu_y", "s_x", "s_y", "target_x", "target_y", "lesion_fraction"}
    if need - set(patches.columns):
        raise InputError(
            f"ellipse_figure: patch table lacks {sorted(need - set(patches.columns))}; "
            "call analysis.patch_statistics with mean= and logvar=."
        )
    if patches.empty:
        raise InputError("ellipse_figure: no patches given; select one location with rows from several subjects.")
    cls = definition.of(patches)
    rng = np.random.default_rng(seed)
    targets = patches[["target_x", "target_y"]].drop_duplicates().to_numpy()
    panels = {}
    with matplotlib.rc_context(STYLE):
        fig = new_figure(9, 4.9)
        axes = fig.subplots(1, 2, sharex=True, sharey=True)
        drawn = []
        for ax, c in zip(axes, ("normal", "abnormal")):
            idx = np.flatnonzero(cls == c)
            shown = rng.permutation(idx)[:max_per_class]
            for rec in patches.iloc[shown].itertuples():
                ax.add_patch(
                    Ellipse(
                        (rec.mu_x, rec.mu_y),
                        2 * np.exp(rec.s_x / 2),
                        2 * np.exp(rec.s_y / 2),
                        facecolor=COLOURS[c],
                        edgecolor=COLOURS[c],
                        alpha=0.15,
                        lw=0.8,
                    )
                )
            sub = patches.iloc[shown]
            ax.scatter(sub["mu_x"], sub["mu_y"], s=8, color=COLOURS[c], zorder=3)
            ax.scatter(targets[:, 0], targets[:, 1], marker="*", s=150, color="gold", edgecolor="black", zorder=4)
            count = f"{len(shown)} of {len(idx)} shown" if len(idx) > len(shown) else f"n = {len(idx)}"
            ax.set_title(f"{definition.label(c)}, {count}")
            ellipses = sub[["mu_x", "mu_y", "s_x", "s_y"]].to_numpy(np.float64)
            panels[c] = {"patches": int(np.isfinite(ellipses).all(axis=1).sum())}
            if len(idx) == 0:
                note(ax, f"no {c} patches at this location")
            ax.set_xlabel("x position (% of slice)")
            ax.set_aspect("equal", adjustable="box")
            drawn.append(sub)
        _square_view(axes[0], pd.concat(drawn), targets)
        axes[0].set_ylabel("y position (% of slice)")
        handles = [
            Patch(facecolor=COLOURS[c], alpha=0.4, edgecolor=COLOURS[c], label=f"{c}: mean and 1σ ellipse")
            for c in ("normal", "abnormal")
        ]
        handles.append(
            Line2D([], [], marker="*", ls="", ms=12, color="gold", markeredgecolor="black", label="true location")
        )
        fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False)
        fig.suptitle(definition.title(), fontsize=8)
        save(fig, out_png, panels)


def _square_view(ax, shown: pd.DataFrame, targets: np.ndarray) -> None:
    """One square view (axes shared) that holds every drawn ellipse and the true location."""
    rx, ry = np.exp(shown["s_x"] / 2), np.exp(shown["s_y"] / 2)
    lo = np.array([np.min(np.r_[shown["mu_x"] - rx, targets[:, 0]]), np.min(np.r_[shown["mu_y"] - ry, targets[:, 1]])])
    hi = np.array([np.max(np.r_[shown["mu_x"] + rx, targets[:, 0]]), np.max(np.r_[shown["mu_y"] + ry, targets[:, 1]])])
    centre, half = (lo + hi) / 2, max(float(np.max(hi - lo)) / 2 * 1.08, 1.0)
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)

"""The paper's figures, one PNG per function, in one style (`figure_style`).

- `ellipse_figure`: Fig. 2, predicted Gaussians (1-sigma ellipses) of patches from one location.
- `loss_curves`: training and validation curves of every trained model (any method).
- re-exported: `kde_figure`, `method_kde_figure` (kde_figures), `heatmap_panel`, `method_panel`,
  `pick_slice` (heatmap_figures), `not_drawn` (figure_style).
"""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse, Patch

from patch2loc.evaluation.figure_style import (
    COLOURS,
    STYLE,
    finite,
    new_figure,
    not_drawn,  # noqa: F401
    note,
    save,
)
from patch2loc.evaluation.heatmap_figures import heatmap_panel, method_panel, pick_slice  # noqa: F401
from patch2loc.evaluation.kde_figures import kde_figure, method_kde_figure  # noqa: F401
from patch2loc.evaluation.patch_classes import PatchClasses
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


LOSS_COLUMNS = ("step", "train_loss", "val_loss")
# The right-hand panel, by the columns a method's loss.csv has: (columns, title, y label, labels).
ERROR_PANELS = (
    (
        ("val_error", "centre_error"),
        "validation location error",
        "mean location error (% of slice)",
        ("model", "predict-the-centre baseline"),
        "β-NLL loss",
    ),
    (
        ("val_recon_error",),
        "reconstruction error of clean validation slices",
        "mean |x − x̂| in the brain",
        ("model",),
        "L2 loss (noisy input)",
    ),
)


def loss_curves(loss_csvs: dict[str, str | os.PathLike], out_png: str | os.PathLike) -> None:
    """Training curves of several models of one method (e.g. 'T2 fold0' -> loss.csv): the loss
    (train solid, validation dashed) and the method's validation error: Patch2Loc's location
    error vs the 'predict the centre' baseline (dotted), the DAE's reconstruction error."""
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
    first = next(iter(curves.values()))
    panel = next((p for p in ERROR_PANELS if set(p[0]) <= set(first.columns)), None)
    with matplotlib.rc_context(STYLE):
        fig = new_figure(12, 4)
        ax_loss, ax_err = fig.subplots(1, 2)
        colours = matplotlib.colormaps["tab10"]
        model_handles = []
        panels = {"loss": {}} | ({panel[1]: {}} if panel else {})  # what each panel draws, per curve
        for i, (label, df) in enumerate(curves.items()):
            colour = colours(i % 10)
            tr = df[["step", "train_loss"]].dropna()
            va = df[["step", "val_loss"]].dropna()
            ax_loss.plot(tr["step"], tr["train_loss"], color=colour, lw=0.8, alpha=0.7)
            ax_loss.plot(va["step"], va["val_loss"], color=colour, lw=1.6, ls="--")
            panels["loss"] |= {
                f"{label} train": finite(tr["train_loss"]),
                f"{label} validation": finite(va["val_loss"]),
            }
            for column, style in zip(panel[0] if panel else (), ((1.6, "-"), (1.0, ":"))):
                err = df[["step", column]].dropna()
                ax_err.plot(err["step"], err[column], color=colour, lw=style[0], ls=style[1])
                panels[panel[1]][f"{label} {column}"] = finite(err[column])
            model_handles.append(Line2D([], [], color=colour, lw=2, label=label))
        ax_loss.set_xlabel("training step")
        ax_loss.set_ylabel(panel[4] if panel else "loss")
        ax_loss.set_title("loss")
        ax_loss.legend(
            handles=[
                Line2D([], [], color="0.3", lw=0.8, label="train"),
                Line2D([], [], color="0.3", lw=1.6, ls="--", label="validation"),
            ],
            frameon=False,
            loc="upper right",
        )
        if panel:
            ax_err.set_xlabel("training step")
            ax_err.set_ylabel(panel[2])
            ax_err.set_title(panel[1])
            ax_err.legend(
                handles=[
                    Line2D([], [], color="0.3", lw=w, ls=ls, label=name)
                    for name, (w, ls) in zip(panel[3], ((1.6, "-"), (1.0, ":")))
                ],
                frameon=False,
                loc="upper right",
            )
        else:
            ax_err.set_axis_off()
        for ax in (ax_loss, ax_err):
            ax.grid(alpha=0.3)
        fig.legend(handles=model_handles, loc="outside right upper", frameon=False, title="model")
        save(fig, out_png, panels)

"""The one style of every figure: colours, the fixed score scale, a bare Agg figure, atomic saving.

Figures are drawn on a bare `matplotlib.figure.Figure` with the Agg canvas (no pyplot state, no
display needed) and saved through `atomic_output`. Slices [X, Y] are shown transposed with the
origin at the bottom, so the horizontal axis is X and the vertical axis is Y everywhere.
"""

from __future__ import annotations

import os
from typing import Iterable

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from patch2loc.evaluation.patch_statistics import classify
from patch2loc.errors import InputError
from patch2loc.files.staging import atomic_output
from patch2loc.methods import DEFAULT_METHOD, METHODS

STYLE = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "savefig.dpi": 150,
    "savefig.facecolor": "white",
}
COLOURS = {"normal": "#1f77b4", "abnormal": "#d62728", "mixed": "#7f7f7f"}
CLASS_LABELS = {"normal": "normal (<10% lesion)", "abnormal": "abnormal (>90% lesion)"}
SCORE_RANGE = METHODS[DEFAULT_METHOD].colour_range  # the paper's fixed [0, 12] of Patch2Loc's scores
HEATMAP_CMAP = "inferno"
SEG_COLOUR = "#00e5ff"


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, out_png: str | os.PathLike) -> None:
    with atomic_output(out_png) as tmp:
        fig.savefig(tmp, format="png")


def note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.3", wrap=True)


def classes(patches: pd.DataFrame) -> np.ndarray:
    if "lesion_fraction" not in patches.columns:
        raise InputError("patch table lacks 'lesion_fraction'; build it with analysis.patch_statistics.")
    return classify(patches["lesion_fraction"].to_numpy())


def value_range(values: Iterable[np.ndarray]) -> tuple[float, float]:
    """Plot range covering the 0.5-99.5 percentiles of every class (a small class must not be
    cut off by a large one), with a margin."""
    bounds = [np.percentile(v, [0.5, 99.5]) for v in values if len(v)] or [np.zeros(2)]
    lo, hi = min(b[0] for b in bounds), max(b[1] for b in bounds)
    pad = 0.1 * (hi - lo) if hi > lo else 1.0
    return float(lo - pad), float(hi + pad)


def not_drawn(title: str, reason: str, out_png: str | os.PathLike) -> None:
    """A small PNG saying why a figure could not be drawn (e.g. no abnormal patch in a dataset),
    so that every figure the workflow declares exists and the report says what is missing."""
    fig = new_figure(5, 1.6)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_title(title)
    note(ax, f"not drawn: {reason}")
    save(fig, out_png)

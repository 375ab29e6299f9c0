"""The one style of every figure: colours, the fixed score scale, a bare Agg figure, atomic saving.

Figures are drawn on a bare `matplotlib.figure.Figure` with the Agg canvas (no pyplot state, no
display needed) and saved through `atomic_output`. Slices [X, Y] are shown transposed with the
origin at the bottom, so the horizontal axis is X and the vertical axis is Y everywhere.

Every PNG records what its panels hold: `save(..., panels={panel: {series: finite values drawn}})`
writes it into the PNG's text chunk `PANELS_KEY` (a figure that could not be drawn records why), so
that `figures.check` can tell from a finished run whether any panel was drawn empty.
"""

from __future__ import annotations

import json
import os
from typing import Iterable

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from patch2loc.files.staging import atomic_output
from patch2loc.registry import DEFAULT_METHOD, METHODS

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
SCORE_RANGE = METHODS[DEFAULT_METHOD].colour_range  # the paper's fixed [0, 12] of Patch2Loc's scores
HEATMAP_CMAP = "inferno"
SEG_COLOUR = "#00e5ff"


def new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


PANELS_KEY = "patch2loc-panels"  # PNG text chunk: {panel: {series: finite values drawn}}
NOT_DRAWN_KEY = "patch2loc-not-drawn"  # PNG text chunk of a figure that could not be drawn: why


def save(fig: Figure, out_png: str | os.PathLike, panels: dict[str, dict[str, int]] | None = None) -> None:
    """Write the figure atomically, with `panels` (what each panel holds) in its PNG text."""
    metadata = {} if panels is None else {PANELS_KEY: json.dumps(panels, ensure_ascii=True)}
    with atomic_output(out_png) as tmp:
        fig.savefig(tmp, format="png", metadata=metadata)


def finite(values) -> int:
    """How many finite values an array holds: what a panel draws of it."""
    return int(np.count_nonzero(np.isfinite(np.asarray(values, dtype=np.float64))))


def note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.3", wrap=True)


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
    with atomic_output(out_png) as tmp:
        fig.savefig(tmp, format="png", metadata={NOT_DRAWN_KEY: reason.encode("ascii", "replace").decode()})

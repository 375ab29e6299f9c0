"""Recall against lesion size: one PNG per lesion set, one line per method (figures.style).

Methods often find the same share of a bin (all or none of its few lesions), so each method's points
are dodged sideways around the bin and drawn with their own marker: no method's marks can hide
another's."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pandas as pd

from patch2loc.evaluation.figures.style import STYLE, finite, new_figure, note, save
from patch2loc.evaluation.tables.aggregate import method_order
from patch2loc.errors import InputError

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
DODGE = 0.8  # the share of a bin's width the methods' points spread over


def dodged(n_methods: int) -> np.ndarray:
    """Each method's sideways offset from its bin's centre (bins 1 apart): evenly over DODGE."""
    if n_methods < 2:
        return np.zeros(n_methods)
    return np.linspace(-DODGE / 2, DODGE / 2, n_methods)


def recall_size_figure(per_fold: pd.DataFrame, dataset: str, out_png: str | os.PathLike) -> None:
    """Lesion-wise recall (%) per size bin of one lesion set (rows of `recall_by_size_per_fold`):
    the mean over folds, the std as error bars; bins without lesions are left out of the lines;
    the x labels give the lesions per bin (per fold). The PNG records each method's points."""
    data = per_fold[per_fold["dataset"] == dataset]
    if data.empty:
        raise InputError(f"recall_size_figure: no lesions of {dataset} in the lesion table.")
    bins = list(per_fold["size_bin"].cat.categories)
    counts = data.groupby("size_bin", observed=False)["lesions"].mean().reindex(bins).fillna(0)  # per fold
    x = np.arange(len(bins))
    methods = method_order(data["method"])
    points = {}
    with matplotlib.rc_context(STYLE):
        fig = new_figure(6.4, 3.6)
        ax = fig.add_subplot()
        for k, (method, offset) in enumerate(zip(methods, dodged(len(methods)))):
            cell = data[data["method"] == method].groupby("size_bin", observed=False)["recall"]
            mean, std = cell.mean().reindex(bins) * 100, cell.std().reindex(bins).fillna(0) * 100
            ax.errorbar(x + offset, mean, yerr=std, marker=MARKERS[k % len(MARKERS)], capsize=3, label=method)
            points[method] = finite(mean)
        ax.set_xticks(x, [f"{b}\n(n={int(round(n))})" for b, n in zip(bins, counts)])
        ax.set_ylim(-3, 103)
        ax.set_xlabel("lesion volume (methods side by side in each bin)")
        ax.set_ylabel("lesions found (%)")
        ax.set_title(f"{dataset}: lesion-wise recall by lesion size")
        ax.legend(loc="best")
        if counts.sum() == 0:
            note(ax, "no lesion counted")
        save(fig, out_png, {"recall by size": points})

"""Recall against lesion size: one PNG per lesion set, one line per method (figure_style)."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pandas as pd

from patch2loc.evaluation.figure_style import STYLE, new_figure, note, save
from patch2loc.evaluation.tables import method_order
from patch2loc.errors import InputError


def recall_size_figure(per_fold: pd.DataFrame, dataset: str, out_png: str | os.PathLike) -> None:
    """Lesion-wise recall (%) per size bin of one lesion set (rows of `recall_by_size_per_fold`):
    the mean over folds, the std as error bars; bins without lesions are left out of the lines;
    the x labels give the lesions per bin (per fold)."""
    data = per_fold[per_fold["dataset"] == dataset]
    if data.empty:
        raise InputError(f"recall_size_figure: no lesions of {dataset} in the lesion table.")
    bins = list(per_fold["size_bin"].cat.categories)
    counts = data.groupby("size_bin", observed=False)["lesions"].mean().reindex(bins).fillna(0)  # per fold
    x = np.arange(len(bins))
    with matplotlib.rc_context(STYLE):
        fig = new_figure(6.4, 3.6)
        ax = fig.add_subplot()
        for method in method_order(data["method"]):
            cell = data[data["method"] == method].groupby("size_bin", observed=False)["recall"]
            mean, std = cell.mean().reindex(bins) * 100, cell.std().reindex(bins).fillna(0) * 100
            ax.errorbar(x, mean, yerr=std, marker="o", capsize=3, label=method)
        ax.set_xticks(x, [f"{b}\n(n={int(round(n))})" for b, n in zip(bins, counts)])
        ax.set_ylim(-3, 103)
        ax.set_xlabel("lesion volume")
        ax.set_ylabel("lesions found (%)")
        ax.set_title(f"{dataset}: lesion-wise recall by lesion size")
        ax.legend(loc="best")
        if counts.sum() == 0:
            note(ax, "no lesion counted")
        save(fig, out_png)

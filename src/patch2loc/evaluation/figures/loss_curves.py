"""Training and validation curves of every trained model (any method), in the one style of every
figure (`style`)."""

from __future__ import annotations

import os

import matplotlib
import pandas as pd
from matplotlib.lines import Line2D

from patch2loc.errors import InputError
from patch2loc.evaluation.figures.style import STYLE, finite, new_figure, save

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

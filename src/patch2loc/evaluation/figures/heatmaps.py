"""Heatmap panels: an axial slice, anomaly maps on it, the ground-truth outline.

- `heatmap_panel`: paper Fig. 4 / 5, slice | Patch2Loc score on the fixed [0, 12] scale | ground truth.
- `method_panel`: the methods side by side on the same slices (image, Patch2Loc, DAE, Thresh,
  ground truth), each map on its own scale from its median healthy score to its unsupervised
  threshold, so that the brightest colour means "flagged at the method's own threshold".
"""

from __future__ import annotations

import os
from typing import Sequence

import matplotlib
import numpy as np

from patch2loc.evaluation.figures.style import HEATMAP_CMAP, SCORE_RANGE, SEG_COLOUR, STYLE, finite, new_figure, save
from patch2loc.errors import InputError


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


MethodRow = tuple[str, np.ndarray, dict, "np.ndarray | None"]


def _check_rows(figure: str, rows: Sequence[MethodRow]) -> None:
    """Every row is (title, image2d, {name: map2d}, seg2d or None), all of one 2D shape."""
    if not rows:
        raise InputError(f"{figure}: no rows to draw; pass at least one (title, image, map(s), seg).")
    for title, image, maps, seg in rows:
        shapes = {np.shape(image)} | {np.shape(m) for m in maps.values()}
        shapes |= {np.shape(seg)} if seg is not None else set()
        if len(shapes) != 1 or np.ndim(image) != 2:
            raise InputError(
                f"{figure}: row {title!r} has 2D arrays of different shapes {sorted(shapes)}; "
                "pass one axial slice of the image, every map and the seg (same z)."
            )


def _outline(ax, image, seg) -> None:
    """The slice in grey with the ground-truth lesion outline (or a note that there is none)."""
    ax.imshow(image, cmap="gray", origin="lower")
    if seg is not None and np.any(seg):
        ax.contour(np.asarray(seg > 0, np.float64).T, levels=[0.5], colors=[SEG_COLOUR], linewidths=1.2)
    else:
        ax.text(
            0.5,
            0.04,
            "no lesion" if seg is not None else "healthy (no segmentation)",
            transform=ax.transAxes,
            ha="center",
            va="bottom",
            color="white",
            fontsize=8,
        )


HeatmapRow = tuple[str, np.ndarray, np.ndarray, "np.ndarray | None"]


def heatmap_panel(
    rows: Sequence[HeatmapRow],
    out_png: str | os.PathLike,
    *,
    vmin: float = SCORE_RANGE[0],
    vmax: float = SCORE_RANGE[1],
) -> None:
    """Fig. 4 / 5: per row (title, image2d, score2d, seg2d or None) the slice, the heatmap on a
    fixed colour scale (default [0, 12], one colour bar) and the ground-truth outline."""
    _check_rows("heatmap_panel", [(title, image, {"score": score}, seg) for title, image, score, seg in rows])
    with matplotlib.rc_context(STYLE):
        fig = new_figure(8.6, 2.7 * len(rows) + 0.3)
        axes = np.atleast_2d(fig.subplots(len(rows), 3))
        heat, panels = None, {}
        for r, (title, image, score, seg) in enumerate(rows):
            image, score = np.asarray(image, np.float64).T, np.asarray(score, np.float64).T
            panels[title] = {"MRI slice": finite(image), "score": finite(score)}  # finite voxels drawn
            ax_img, ax_heat, ax_gt = axes[r]
            ax_img.imshow(image, cmap="gray", origin="lower")
            heat = ax_heat.imshow(score, cmap=HEATMAP_CMAP, vmin=vmin, vmax=vmax, origin="lower")
            _outline(ax_gt, image, seg)
            for ax in (ax_img, ax_heat, ax_gt):
                ax.set_xticks([])
                ax.set_yticks([])
            ax_img.set_ylabel(title)
        for ax, name in zip(axes[0], ("MRI slice", "Patch2Loc score", "ground truth (outline)")):
            ax.set_title(name)
        fig.colorbar(
            heat,
            ax=axes[:, 1].tolist(),
            label=f"score (fixed scale [{vmin:g}, {vmax:g}])",
            shrink=0.7 if len(rows) > 1 else 0.9,
            aspect=15 * min(len(rows), 3),
            extend="both",
        )
        save(fig, out_png, panels)


def method_panel(
    rows: Sequence[MethodRow],
    methods: Sequence[str],
    scales: dict[str, tuple[float, float]],
    out_png: str | os.PathLike,
) -> None:
    """Per row (title, image2d, {method: map2d}, seg2d or None): the slice, each method's map on
    its scale `scales[method]` = (low, high) (one colour bar per method), the ground-truth outline.
    A method without a map for a row is a blank panel saying so."""
    _check_rows("method_panel", rows)
    if not methods:
        raise InputError("method_panel: no method to show; pass the methods whose maps the rows hold.")
    columns = ["MRI slice", *methods, "ground truth (outline)"]
    with matplotlib.rc_context(STYLE):
        fig = new_figure(2.5 * len(columns) + 0.6, 2.6 * len(rows) + 0.6)
        axes = np.atleast_2d(fig.subplots(len(rows), len(columns)))
        images, panels = {}, {}
        for r, (title, image, maps, seg) in enumerate(rows):
            image = np.asarray(image, np.float64).T
            axes[r, 0].imshow(image, cmap="gray", origin="lower")
            axes[r, 0].set_ylabel(title)
            # finite voxels drawn per column; a method without a map for this row draws none
            panels[title] = {"MRI slice": finite(image)} | {m: finite(maps[m]) if m in maps else 0 for m in methods}
            for c, method in enumerate(methods, start=1):
                if method in maps:
                    lo, hi = scales[method]
                    images[method] = axes[r, c].imshow(
                        np.asarray(maps[method], np.float64).T, cmap=HEATMAP_CMAP, vmin=lo, vmax=hi, origin="lower"
                    )
                else:
                    axes[r, c].text(0.5, 0.5, "no kept heatmap", transform=axes[r, c].transAxes, ha="center")
            _outline(axes[r, -1], image, seg)
            for ax in axes[r]:
                ax.set_xticks([])
                ax.set_yticks([])
        for ax, name in zip(axes[0], columns):
            ax.set_title(name)
        for c, method in enumerate(methods, start=1):
            if method in images:
                lo, hi = scales[method]
                fig.colorbar(
                    images[method],
                    ax=axes[:, c].tolist(),
                    location="bottom",
                    shrink=0.9,
                    extend="both",
                    label=f"{lo:.3g} (healthy median)\nto {hi:.3g} (threshold)",
                )
        save(fig, out_png, panels)

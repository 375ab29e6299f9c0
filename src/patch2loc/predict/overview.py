"""The overview figure of a heatmap: a few axial slices, image | score | overlay."""

from __future__ import annotations

from pathlib import Path

from patch2loc.files.staging import atomic_output

COLOUR_RANGE = (0.0, 12.0)  # the paper's fixed colour scale for heatmaps


def overview_png(image, score, mask, path: str | Path, n_slices: int = 4, title: str = "") -> Path:
    """A few axial slices through the brain: image | heatmap on [0, 12] | overlay."""
    import matplotlib  # matplotlib and numpy: not at `patch2loc --help` (predict/__init__ imports this module)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    zs = np.flatnonzero(mask.any(axis=(0, 1)))
    lo, hi = (zs[0], zs[-1]) if zs.size else (0, image.shape[2] - 1)
    slices = np.unique(np.linspace(lo, hi, n_slices + 2)[1:-1].round().astype(int))
    fig, axes = plt.subplots(len(slices), 3, figsize=(9, 3 * len(slices)), squeeze=False)
    vmin, vmax = COLOUR_RANGE
    for row, z in zip(axes, slices):
        img, hm = image[:, :, z].T, score[:, :, z].T  # x to the right, y up
        row[0].imshow(img, cmap="gray", origin="lower")
        im = row[1].imshow(hm, cmap="jet", vmin=vmin, vmax=vmax, origin="lower")
        fig.colorbar(im, ax=row[1], fraction=0.046, pad=0.04)
        row[2].imshow(img, cmap="gray", origin="lower")
        row[2].imshow(
            np.ma.masked_where(~mask[:, :, z].T, hm), cmap="jet", vmin=vmin, vmax=vmax, alpha=0.5, origin="lower"
        )
        row[0].set_ylabel(f"z = {z}")
        for ax in row:
            ax.set_xticks([])
            ax.set_yticks([])
    for ax, name in zip(axes[0], ("image", "score", "overlay")):
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=80, format="png")
    plt.close(fig)
    return Path(path)

"""The reference implementations' own input conventions, as settings a run may switch on to measure
what the pipeline's shared preprocessing costs a method (docs/protocols.md, "What the deviations
cost"). Each default is the pipeline's behaviour; each switch is what one reference did:

- `full_range`: a volume divided by its in-brain maximum, so that [0, 1] holds every intensity, as an
  8-bit export of the volume does (RA's and PHANES' PNG slices), instead of clipping at 1 (the 98th
  in-brain percentile after preprocessing), which flattens the brightest tissue and bright lesions;
- `equalise_histogram`: FAE's per-volume histogram equalisation (FeliMe/feature-autoencoder
  fae/data/data_utils.py `histogram_equalization`: scikit-image's `equalize_hist` with 256 bins over
  the voxels above 0, the background kept at 0);
- `axial_band`: the slices of a middle band of each volume's brain, FAE's axial slices 55-135 of the
  MNI volumes (data_utils.py `load_nii_nn`) being MIDBRAIN of the brain's axial extent.
"""

from __future__ import annotations

import numpy as np

# FAE's slices 55-135 (world z -17 to +63 mm) as fractions of the brain's axial extent in nilearn's
# MNI152 brain mask (1 mm; brain on slices 0-154): 55 / 154 and 134 / 154.
MIDBRAIN = (0.36, 0.87)
ALL_SLICES = (0.0, 1.0)
INTENSITIES = ("clip", "full_range")


def check_band(band, where: str) -> None:
    """One line (ValueError) unless `band` is two fractions 0 <= low < high <= 1."""
    if len(band) != 2 or not 0.0 <= band[0] < band[1] <= 1.0:
        raise ValueError(
            f"{where}: axial_range {list(band)} must be two fractions 0 <= low < high <= 1, e.g. [0.36, 0.87]"
        )


def axial_band(masks: np.ndarray, band: tuple[float, float]) -> np.ndarray:
    """[S, Z] bool of [S, X, Y, Z] brain masks: the axial slices that hold brain and lie within `band`
    (fractions of each volume's span from its lowest to its highest brain slice, both ends kept)."""
    holds = masks.any(axis=(1, 2))
    if tuple(band) == ALL_SLICES:
        return holds
    keep = np.zeros_like(holds)
    for s, row in enumerate(holds):
        z = np.flatnonzero(row)
        if not len(z):
            continue
        low, span = z[0], max(int(z[-1] - z[0]), 1)
        fraction = (np.arange(row.size) - low) / span
        keep[s] = row & (fraction >= band[0] - 1e-9) & (fraction <= band[1] + 1e-9)
    return keep


def full_range(volume: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """float32 `volume` divided by its largest in-brain value (negative values set to 0), so that the
    brain's whole range lies in [0, 1]; unchanged when the brain holds nothing above 0."""
    volume = np.maximum(np.asarray(volume, np.float32), 0.0)
    top = float(volume[mask].max()) if mask.any() else 0.0
    return volume / top if top > 0 else volume


def equalise_histogram(volume: np.ndarray) -> np.ndarray:
    """float32 FAE's equalisation of one volume: scikit-image's `equalize_hist` (256 bins) over the
    voxels above 0, then the others set to 0."""
    from skimage.exposure import equalize_hist

    volume = np.asarray(volume, np.float32)
    inside = volume > 0
    if not inside.any():
        return volume.copy()
    return (equalize_hist(volume, nbins=256, mask=inside) * inside).astype(np.float32)


def per_volume(images: np.ndarray, masks: np.ndarray, *, intensity: str = "clip", equalise: bool = False) -> np.ndarray:
    """[S, X, Y, Z] stacks with the switched-on conventions applied per volume (`full_range`, then
    `equalise_histogram`) in a new array; `images` itself when none is switched on."""
    if intensity == "clip" and not equalise:
        return images
    out = np.empty_like(images)
    for s in range(len(images)):
        volume = full_range(images[s], masks[s]) if intensity == "full_range" else images[s]
        out[s] = equalise_histogram(volume) if equalise else volume
    return out

"""Intensity standardisation: Nyul histogram matching, then division by a brain percentile.

The Nyul standard scale (landmarks) is fitted once, on the IXI training subjects of a modality
only (the workflow rule chooses the subjects), and applied to every scan of every dataset, so
healthy and lesion volumes share one intensity scale. After the piecewise-linear mapping the image
is multiplied by the brain mask and divided by its 98th in-brain percentile (paper §4; the
authors' code rescales with the 1st/99th percentiles instead).

Landmarks file: a .npy array [2, L]: row 0 the standard scale, row 1 the percentiles it belongs to
(the format of intensity-normalization's `save_standard_histogram`).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from intensity_normalization.adapters.images import NumpyImageAdapter
from intensity_normalization.normalizers.population.nyul import NyulNormalizer

from patch2loc.io import InputError, atomic_output, load_case, save_volume


class _LazyScans:
    """Images and masks loaded one scan at a time: hundreds of 1 mm volumes do not fit in memory
    together, and NyulNormalizer only needs them one after the other."""

    def __init__(self, pairs: list[tuple[str | os.PathLike, str | os.PathLike]]) -> None:
        self.pairs = pairs
        self._index, self._case = -1, None
        self.images = _View(self, "image")
        self.masks = _View(self, "mask")

    def get(self, i: int, part: str) -> NumpyImageAdapter:
        if i != self._index:
            self._index, self._case = i, load_case(*self.pairs[i])
        if part == "image":
            return NumpyImageAdapter(self._case.image.data)
        return NumpyImageAdapter(self._case.mask.astype(np.float32))


class _View(Sequence):
    def __init__(self, scans: _LazyScans, part: str) -> None:
        self.scans, self.part = scans, part

    def __len__(self) -> int:
        return len(self.scans.pairs)

    def __getitem__(self, i: int) -> NumpyImageAdapter:
        return self.scans.get(i, self.part)


def fit_landmarks(image_paths: Sequence[str | os.PathLike], mask_paths: Sequence[str | os.PathLike],
                  out_path: str | os.PathLike) -> np.ndarray:
    """Fit the Nyul standard scale on in-brain voxels of the given scans; save it to `out_path`.

    Returns the saved [2, L] array (standard scale, percentiles).
    """
    if len(image_paths) == 0 or len(image_paths) != len(mask_paths):
        raise InputError(f"{out_path}: need the same non-zero number of images and masks to fit "
                         f"landmarks, got {len(image_paths)} and {len(mask_paths)}.")
    scans = _LazyScans(list(zip(image_paths, mask_paths)))
    nyul = NyulNormalizer()
    try:
        nyul.fit_population(scans.images, scans.masks)
    except Exception as exc:  # NormalizationError: e.g. a constant image
        raise InputError(f"{out_path}: fitting Nyul landmarks failed ({exc}); check the QC of the "
                         "training scans (an empty or constant brain).") from exc
    table = np.vstack([nyul.standard_scale, nyul.percentiles])
    with atomic_output(out_path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, table)
    return table


def load_landmarks(path: str | os.PathLike) -> NyulNormalizer:
    """A fitted NyulNormalizer from a landmarks file (checked)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: landmarks not found. Run the landmark-fitting rule first.")
    try:
        table = np.load(path)
    except Exception as exc:
        raise InputError(f"{path}: not a landmarks .npy file ({exc}). Delete it and re-fit.") from exc
    if table.ndim != 2 or table.shape[0] != 2 or not np.all(np.diff(table[0]) > 0):
        raise InputError(f"{path}: expected a [2, L] array with an increasing standard scale, got "
                         f"shape {table.shape}. Delete it and re-fit the landmarks.")
    nyul = NyulNormalizer()
    nyul.load_standard_histogram(str(path))
    return nyul


def nyul_transform(image: np.ndarray, mask: np.ndarray, nyul: NyulNormalizer) -> np.ndarray:
    """Piecewise-linear map of `image` taking its in-mask landmarks onto the standard scale."""
    out = nyul.transform(NumpyImageAdapter(image), NumpyImageAdapter(mask.astype(np.float32)))
    return out.get_data().astype(np.float32)


def normalize_scan(image_path: str | os.PathLike, mask_path: str | os.PathLike,
                   landmarks_path: str | os.PathLike, out_path: str | os.PathLike,
                   percentile: float = 98.0) -> Path:
    """Nyul-standardise one scan, zero outside the brain, divide by its in-brain percentile."""
    case = load_case(image_path, mask_path)
    nyul = load_landmarks(landmarks_path)
    data = nyul_transform(case.image.data, case.mask, nyul) * case.mask
    scale = float(np.percentile(data[case.mask], percentile))
    if not scale > 0:
        raise InputError(f"{image_path}: the {percentile}th in-brain percentile after Nyul mapping is "
                         f"{scale:g}; the image or its mask {mask_path} is wrong (check its QC).")
    return save_volume((data / scale).astype(np.float32), out_path, like=case.image)

"""Intensity standardisation: Nyul histogram matching, then division by a brain percentile.

The Nyul standard scale (landmarks) is fitted once, on the IXI training subjects of a modality
only (the workflow rule chooses the subjects), and applied to every scan of every dataset, so
healthy and lesion volumes share one intensity scale. After the piecewise-linear mapping the image
is multiplied by the brain mask and divided by its 98th in-brain percentile (paper §4; the
authors' code rescales with the 1st/99th percentiles instead).

Landmarks file: a .npy array [2, L]: row 0 the standard scale, row 1 the percentiles it belongs to
(the format of intensity-normalization 3.x's `save_standard_histogram`).

intensity-normalization 3.x (Python 3.11) and 4.x (what pip installs on 3.12+) differ in API
(3.x: `normalizers.population.nyul.NyulNormalizer` on image adapters; 4.x: `nyul.fit_array`
and `NyulTransform` on arrays). `_Nyul` hides the difference: both fit the same default landmarks
(percentiles 1, 10, ..., 90, 99 mapped to [1, 100]) and give identical results on the same data
(tests/preprocessing/test_normalize.py checks the landmarks; docs/real-data.md has the cross-version check).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from patch2loc.files.io import load_case, save_volume
from patch2loc.errors import InputError
from patch2loc.files.staging import atomic_output

try:  # intensity-normalization 3.x
    from intensity_normalization.adapters.images import NumpyImageAdapter
    from intensity_normalization.normalizers.population.nyul import NyulNormalizer

    INORM_API = 3
except ImportError:  # 4.x
    import intensity_normalization as _inorm

    INORM_API = 4


class _Nyul:
    """The fitted standard scale, and the two operations we need, for either library version."""

    def __init__(self, standard_scale: np.ndarray, percentiles: np.ndarray) -> None:
        # float32, as 4.x stores them: both versions then hold bit-identical landmarks
        self.standard_scale = np.asarray(standard_scale, dtype=np.float32).astype(np.float64)
        self.percentiles = np.asarray(percentiles, dtype=np.float32).astype(np.float64)

    @classmethod
    def fit(cls, images: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> "_Nyul":
        if INORM_API == 3:
            nyul = NyulNormalizer()
            nyul.fit_population(_Adapted(images), _Adapted(masks, np.float32))
            return cls(nyul.standard_scale, nyul.percentiles)
        fitted = _inorm.nyul.fit_array(images, _Adapted(masks, bool, wrap=False))
        return cls(fitted.standard_scale, fitted.landmark_percentiles)

    def transform(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        if INORM_API == 3:
            nyul = NyulNormalizer()
            table = io.BytesIO()
            np.save(table, np.vstack([self.standard_scale, self.percentiles]))
            table.seek(0)
            nyul.load_standard_histogram(table)  # its public way in (np.load takes a file object)
            out = nyul.transform(NumpyImageAdapter(image), NumpyImageAdapter(mask.astype(np.float32)))
            return out.get_data().astype(np.float32)
        fitted = _inorm.NyulTransform(self.standard_scale, self.percentiles)
        return np.asarray(
            fitted.transform_array(np.asarray(image, np.float32), np.asarray(mask, bool)), dtype=np.float32
        )


class _Adapted(Sequence):
    """A sequence of arrays cast (and for 3.x wrapped in its image adapter) on access."""

    def __init__(self, items: Sequence[np.ndarray], dtype=np.float32, wrap: bool = True) -> None:
        self.items, self.dtype, self.wrap = items, dtype, wrap and INORM_API == 3

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        data = np.asarray(self.items[i]).astype(self.dtype, copy=False)
        return NumpyImageAdapter(data) if self.wrap else data


class _LazyScans:
    """Images and masks loaded one scan at a time: hundreds of 1 mm volumes do not fit in memory
    together, and both library versions only need them one after the other."""

    def __init__(self, pairs: list[tuple[str | os.PathLike, str | os.PathLike]]) -> None:
        self.pairs = pairs
        self._index, self._case = -1, None
        self.images = _View(self, "image")
        self.masks = _View(self, "mask")

    def get(self, i: int, part: str) -> np.ndarray:
        if i != self._index:
            self._index, self._case = i, load_case(*self.pairs[i])
        return self._case.image.data if part == "image" else self._case.mask


class _View(Sequence):
    def __init__(self, scans: _LazyScans, part: str) -> None:
        self.scans, self.part = scans, part

    def __len__(self) -> int:
        return len(self.scans.pairs)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.scans.get(i, self.part)


def fit_landmarks(
    image_paths: Sequence[str | os.PathLike], mask_paths: Sequence[str | os.PathLike], out_path: str | os.PathLike
) -> np.ndarray:
    """Fit the Nyul standard scale on in-brain voxels of the given scans; save it to `out_path`.

    Returns the saved [2, L] array (standard scale, percentiles).
    """
    if len(image_paths) == 0 or len(image_paths) != len(mask_paths):
        raise InputError(
            f"{out_path}: need the same non-zero number of images and masks to fit "
            f"landmarks, got {len(image_paths)} and {len(mask_paths)}."
        )
    scans = _LazyScans(list(zip(image_paths, mask_paths)))
    try:
        nyul = _Nyul.fit(scans.images, scans.masks)
    except Exception as exc:  # NormalizationError: e.g. a constant image
        raise InputError(
            f"{out_path}: fitting Nyul landmarks failed ({exc}); check the QC of the "
            "training scans (an empty or constant brain)."
        ) from exc
    table = np.vstack([nyul.standard_scale, nyul.percentiles])
    with atomic_output(out_path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, table)
    return table


def load_landmarks(path: str | os.PathLike) -> _Nyul:
    """The fitted standard scale from a landmarks file (checked)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: landmarks not found. Run the landmark-fitting rule first.")
    try:
        table = np.load(path)
    except Exception as exc:
        raise InputError(f"{path}: not a landmarks .npy file ({exc}). Delete it and re-fit.") from exc
    if table.ndim != 2 or table.shape[0] != 2 or not np.all(np.diff(table[0]) > 0):
        raise InputError(
            f"{path}: expected a [2, L] array with an increasing standard scale, got "
            f"shape {table.shape}. Delete it and re-fit the landmarks."
        )
    return _Nyul(table[0], table[1])


def nyul_transform(image: np.ndarray, mask: np.ndarray, nyul: _Nyul) -> np.ndarray:
    """Piecewise-linear map of `image` taking its in-mask landmarks onto the standard scale."""
    return nyul.transform(image, mask)


def normalize_scan(
    image_path: str | os.PathLike,
    mask_path: str | os.PathLike,
    landmarks_path: str | os.PathLike,
    out_path: str | os.PathLike,
    percentile: float = 98.0,
    target_shape: Sequence[int] | None = None,
) -> Path:
    """Nyul-standardise one scan, zero outside the brain, divide by its in-brain percentile, and
    (with `target_shape`) crop/pad last, as the paper's chain does: the landmarks and the
    percentile then describe the whole brain, not what is left of it after the crop.

    `target_shape` None keeps the input grid (for a scan that is already cropped).
    """
    case = load_case(image_path, mask_path)
    nyul = load_landmarks(landmarks_path)
    data = nyul_transform(case.image.data, case.mask, nyul) * case.mask
    scale = float(np.percentile(data[case.mask], percentile))
    if not scale > 0:
        raise InputError(
            f"{image_path}: the {percentile}th in-brain percentile after Nyul mapping is "
            f"{scale:g}; the image or its mask {mask_path} is wrong (check its QC)."
        )
    data = (data / scale).astype(np.float32)
    if target_shape is None:
        return save_volume(data, out_path, like=case.image)
    from patch2loc.preprocessing.imaging import crop_or_pad, shift_affine

    cropped, offset = crop_or_pad(data, tuple(int(n) for n in target_shape))
    return save_volume(cropped, out_path, affine=shift_affine(case.image.affine, offset))

"""Voxel values that no scanner produces: clipped (extreme outliers) or reported (one warning line).

Extreme outliers. Ten voxels at 1e30 in a raw scan overflow float32 in the chain (N4 squares
and sums intensities, registration builds histograms), and the heatmap came out with NaNs and a
lesion volume four times too large. We clip rather than refuse: a few hot voxels are a common
export artefact that the user cannot always fix, and clipping them changes nothing else. The
rule, the same for raw scans (before the chain) and for already-preprocessed ones:

    limit = OUTLIER_FACTOR x the OUTLIER_PERCENTILE-th percentile of |intensity| over nonzero voxels
          = 10 x p99.9;  values beyond +-limit are set to +-limit (one warning line with the count).

The brightest real tissue is at most a few times p99.9, so ordinary scans are untouched
(bit-identical), and the percentiles the chain uses (Nyul's 1st-99th, the 98th used to scale)
do not move. NaN and infinity in the file are refused instead (`io.load_volume`,
`imaging.read_image`): they have no value to clip to. Whatever still overflows is caught when
the heatmap is checked before it is written (`predict/scan.py`).
"""
from __future__ import annotations

import warnings

import numpy as np


class ScanWarning(UserWarning):
    """A warning about a scan's values."""


_said: set[str] = set()


def _warn(text: str) -> None:
    """Each text once per process: a raw scan is read by predict's preflight and again by the
    chain, and one line is enough. (A "once" filter set by the CLI did not hold in a real run:
    the battery still saw two lines.)"""
    if text not in _said:
        _said.add(text)
        warnings.warn(text, ScanWarning, stacklevel=4)


OUTLIER_PERCENTILE = 99.9
OUTLIER_FACTOR = 10.0
INT16_WRAP = 30000  # a wrapped int16 scan reaches both ends of the range (-32768 ... 32767)


def clip_outliers(data: np.ndarray, path, kind: str = "image") -> np.ndarray:
    """`data` with |values| beyond OUTLIER_FACTOR x p99.9(|nonzero|) clipped (see the module doc).
    Integers are converted to float32 first; floats keep their type (float64 clipped before any
    float32 conversion, where 1e300 would become inf)."""
    if data.dtype.kind != "f":
        data = data.astype(np.float32)
    magnitude = np.abs(data)
    nonzero = magnitude[magnitude > 0]
    if nonzero.size == 0:
        return data
    limit = OUTLIER_FACTOR * float(np.percentile(nonzero, OUTLIER_PERCENTILE))
    del nonzero
    hot = int(np.count_nonzero(magnitude > limit))
    if hot == 0:
        return data
    peak = float(magnitude.max())
    _warn(f"{path}: {hot} voxel(s) of the {kind} reach |{peak:.3g}|, beyond {OUTLIER_FACTOR:g} x its "
                  f"{OUTLIER_PERCENTILE:g}th percentile of |intensity|; clipped to +-{limit:.4g} (extreme "
                  "outliers would overflow the chain). Check the scan's export if this is unexpected.")
    return np.clip(data, -limit, limit, out=data if data.flags.writeable else None)


def warn_int16_wrap(data: np.ndarray, dtype: np.dtype, path, kind: str = "image") -> None:
    """A scan stored as int16 whose values reach both ends of the range has probably wrapped:
    intensities above 32767 became large negative numbers when it was exported."""
    if np.dtype(dtype) != np.int16 or data.size == 0:
        return
    low, high = float(data.min()), float(data.max())
    if low <= -INT16_WRAP and high >= INT16_WRAP:
        _warn(f"{path}: the {kind} is stored as int16 and its values reach both ends of the range "
                      f"({low:g} ... {high:g}): intensities above 32767 have probably wrapped around to negative "
                      "numbers on export. Re-export it as float32 or uint16.")


def warn_full_mask(mask: np.ndarray, path, kind: str = "brain mask") -> None:
    """A brain mask that covers every voxel of the volume is almost never a brain mask."""
    if mask.size and bool(np.all(mask)):
        _warn(f"{path}: the {kind} covers every voxel of the volume (nothing is outside the brain); check "
                      "that it is the scan's brain mask and not an image or an all-ones placeholder.")

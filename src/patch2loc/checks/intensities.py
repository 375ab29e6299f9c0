"""Voxel values that no scanner produces: clipped (extreme outliers) or reported (one warning line);
and the intensity scale a model was trained on, recorded at training and checked at predict.

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
from patch2loc.errors import InputError

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


def warn_once(text: str) -> None:
    """A ScanWarning of `text`, once per process (what every check of a scan's values warns with)."""
    _warn(text)


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
    _warn(
        f"{path}: {hot} voxel(s) of the {kind} reach |{peak:.3g}|, beyond {OUTLIER_FACTOR:g} x its "
        f"{OUTLIER_PERCENTILE:g}th percentile of |intensity|; clipped to +-{limit:.4g} (extreme "
        "outliers would overflow the chain). Check the scan's export if this is unexpected."
    )
    return np.clip(data, -limit, limit, out=data if data.flags.writeable else None)


def warn_int16_wrap(data: np.ndarray, dtype: np.dtype, path, kind: str = "image") -> None:
    """A scan stored as int16 whose values reach both ends of the range has probably wrapped:
    intensities above 32767 became large negative numbers when it was exported."""
    if np.dtype(dtype) != np.int16 or data.size == 0:
        return
    low, high = float(data.min()), float(data.max())
    if low <= -INT16_WRAP and high >= INT16_WRAP:
        _warn(
            f"{path}: the {kind} is stored as int16 and its values reach both ends of the range "
            f"({low:g} ... {high:g}): intensities above 32767 have probably wrapped around to negative "
            "numbers on export. Re-export it as float32 or uint16."
        )


def warn_full_mask(mask: np.ndarray, path, kind: str = "brain mask") -> None:
    """A brain mask that covers every voxel of the volume is almost never a brain mask."""
    if mask.size and bool(np.all(mask)):
        _warn(
            f"{path}: the {kind} covers every voxel of the volume (nothing is outside the brain); check "
            "that it is the scan's brain mask and not an image or an all-ones placeholder."
        )


# Training intensity range. A model sees normalised intensities (Nyul, then the 98th in-brain
# percentile = 1); a preprocessed scan given without --from-run in another scale (x1000, or a
# header scl_slope of 1000) was scored with exit 0, a heatmap from -382 to 0 and 0.0 mL found.
# Each trained checkpoint records the in-brain 1st and 99th percentiles of its training volumes
# (config.intensity_range: the lowest p1 and the highest p99 over the volumes); predict refuses
# a scan whose own in-brain p1 or p99 lies more than one training span (p99 - p1) outside them,
# or whose spread (p99 - p1) is below a quarter of the span, unless --force (a loud warning).
RANGE_PERCENTILES = (1.0, 99.0)
RANGE_SPREAD = 0.25  # a scan compressed below a quarter of the training spread is out of range too


def _brain_percentiles(image: np.ndarray, brain: np.ndarray) -> tuple[float, float]:
    inside = np.asarray(image, np.float32)[np.asarray(brain, bool)]
    low, high = np.percentile(inside, RANGE_PERCENTILES) if inside.size else (0.0, 0.0)
    return float(low), float(high)


def training_range(images: np.ndarray, masks: np.ndarray) -> dict:
    """The in-brain intensity range of training volumes [S, X, Y, Z] (recorded in checkpoints)."""
    bounds = [_brain_percentiles(image, mask) for image, mask in zip(images, masks)]
    return {"p1": min(b[0] for b in bounds), "p99": max(b[1] for b in bounds), "volumes": len(bounds)}


def contrast_ranges(images: np.ndarray, masks: np.ndarray, channels: int) -> dict:
    """The recorded training intensities of volumes [S, X, Y, Z] or [S, C, X, Y, Z]: `intensity_range`
    of the (first) contrast, as predict checks it today, and with several contrasts
    `intensity_ranges`, one per contrast."""
    if images.ndim == 4:
        return {"intensity_range": training_range(images, masks)}
    ranges = [training_range(images[:, c], masks) for c in range(channels)]
    return {"intensity_range": ranges[0], "intensity_ranges": ranges}


def recorded_range(ckpt: dict, contrast: int = 0) -> dict | None:
    """The training range a checkpoint recorded for contrast `contrast` of its input: `intensity_ranges`
    of a model of several contrasts, else `intensity_range` (the first contrast's); None when absent."""
    config = ckpt["config"]
    ranges = config.get("intensity_ranges")
    found = ranges[contrast] if isinstance(ranges, list) and contrast < len(ranges) else None
    return found or (config.get("intensity_range") if contrast == 0 else None)


def range_problem(value) -> str | None:
    """What is wrong with a checkpoint's recorded range (None: usable, or None given)."""
    if value is None:
        return None
    try:
        low, high = float(value["p1"]), float(value["p99"])
    except (TypeError, KeyError, ValueError):
        return f"intensity_range is {str(value)[:60]!r}, not {{p1, p99}} numbers"
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        return f"intensity_range {low:g} ... {high:g} is not a finite, increasing range"
    return None


def check_training_range(
    image: np.ndarray, brain: np.ndarray, models: list[tuple[str, dict]], path, force: bool, contrast: int = 0
) -> None:
    """Refuse (or with `force` warn about) a scan outside the models' training intensities (of its
    contrast `contrast`, for a model of several). Every checkpoint records its range (read_checkpoint
    requires it), so only an ensemble without models (Thresh) has none to compare with."""
    known = [r for r in (recorded_range(ckpt, contrast) for _, ckpt in models) if r is not None]
    if not known:
        return
    low, high = min(float(r["p1"]) for r in known), max(float(r["p99"]) for r in known)
    span = high - low
    p1, p99 = _brain_percentiles(image, brain)
    if low - span <= p1 and p99 <= high + span and p99 - p1 >= RANGE_SPREAD * span:
        return
    text = (
        f"{path}: its in-brain intensities (1st-99th percentile {p1:.4g} ... {p99:.4g}) are not in the scale "
        f"the model was trained on ({low:.4g} ... {high:.4g}), so its heatmap and lesion volume would be "
        "meaningless (another normalisation, or a scaled image or scl_slope?)"
    )
    if not force:
        raise InputError(
            f"{text}; nothing was written. Give the raw scan with --from-run or --model (the run's own "
            "normalisation), or pass --force to score it anyway."
        )
    _warn(f"{text}; scored anyway (--force): do not trust this heatmap or its lesion volume.")

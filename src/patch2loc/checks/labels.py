"""A lesion label file's values, read one way wherever labels are read (native-space scoring, the chain's
registered ground truth, predict's --seg, a preprocessed case).

A label is a whole number: 0 is background, every other value a lesion label (WMH: 2 is "other
pathology"). Before, the native grid kept labels as int16: a label of 40,000 stored as uint32 wrapped
to -25,536 and the lesion vanished from the metrics; floats were rounded, so 0.5 was dropped and 1.5
read as WMH's label 2. Now a file whose values are not whole numbers from 0 to 2^31 - 1 is refused in
one line naming it, and the values are kept as int32, exactly (every whole float32 below 2^24 is exact;
above it only the value's size is used: > 0, = 1, = 2).
"""

from __future__ import annotations

import numpy as np

from patch2loc.errors import InputError

MAX_LABEL = 2**31 - 1


def label_values(data: np.ndarray, path, what: str = "lesion mask") -> np.ndarray:
    """`data`'s values as int32 labels; InputError naming `path` when any is not a whole number in range."""
    data = np.asarray(data)
    if data.dtype.kind == "b":
        return data.astype(np.int32)
    if data.size == 0:
        return data.astype(np.int32)
    low, high = data.min(), data.max()
    if data.dtype.kind == "f" and not (np.isfinite(low) and np.isfinite(high)):
        raise InputError(f"{path}: the {what} holds NaN or infinite values; labels are whole numbers. Re-export it.")
    if low < 0 or high > MAX_LABEL:
        raise InputError(
            f"{path}: the {what} holds the value {low if low < 0 else high:g}; labels are whole numbers from 0 "
            f"(background) to {MAX_LABEL:,}. Re-export it with its label values (e.g. 0 and 1) as integers."
        )
    if data.dtype.kind == "f":
        fraction = np.flatnonzero(np.mod(data.ravel(), 1.0))
        if fraction.size:
            value = float(data.ravel()[fraction[0]])
            raise InputError(
                f"{path}: the {what} holds {fraction.size:,} voxels that are not whole numbers (e.g. {value:g}); "
                "labels are whole numbers, so a probability or a resampled mask cannot be scored. Threshold "
                "it (e.g. at 0.5) and save it as integer labels."
            )
    return data.astype(np.int32)

"""predict's native-space checks. The resampling itself (atlas grid -> the scan's own grid through
the inverse of `transform.tfm`) is the scoring core's, shared with the workflow's native-space
scoring: `patch2loc.scoring.native`, whose names are importable from here too."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from patch2loc.errors import InputError
from patch2loc.scoring.native import (  # noqa: F401 (predict's and the BIDS adapter's names)
    LPS_FROM_RAS,
    itk_affine,
    native_map,
    native_reference,
    read_transform,
    sitk_image,
    to_native,
)


def check_same_geometry(native: str | Path, nib_affine: np.ndarray) -> None:
    """nibabel and SimpleITK must agree on where the scan is: the chain (ITK) maps the heatmap
    back onto the grid ITK reads, and the native outputs carry the header nibabel reads. They
    differ when a NIfTI's qform and sform disagree, or when ITK repairs what nibabel accepts;
    the outputs would then mix two geometries, so the scan is refused before any compute."""
    ref_affine = itk_affine(native)
    if not np.allclose(ref_affine, nib_affine, atol=1e-3):
        shift = float(np.abs(ref_affine - nib_affine).max())
        raise InputError(
            f"{native}: nibabel and ITK read different geometries from its header (qform and sform "
            f"disagree; the affines differ by up to {shift:.3g}), so the native-space outputs would mix "
            "the two. Make them agree (nibabel: img.set_qform(img.get_sform())) or re-export the scan."
        )

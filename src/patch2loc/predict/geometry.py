"""predict's check that nibabel and ITK read one geometry from a scan, before any compute (the
resampling back onto the scan's grid is the scoring core's: `patch2loc.scoring.native`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from patch2loc.errors import InputError
from patch2loc.scoring.native import itk_affine


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

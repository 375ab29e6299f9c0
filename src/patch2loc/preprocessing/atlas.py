"""The registration target: the atlas brain on the output grid, and the SRI24 atlas files.

Split out of preprocess.py (which re-exports every name).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import SimpleITK as sitk

from patch2loc.preprocessing.grid import require_same_grid
from patch2loc.preprocessing.imaging import (
    image_claims,
    ras_affine,
    read_image,
    resample_to_spacing,
    to_numpy,
)
from patch2loc.files.io import save_volume
from patch2loc.errors import InputError

# -------------------------------------------------------------------------------- atlas


@dataclass
class Atlas:
    """The atlas brain on the output grid (cfg.spacing, cut to its brain bounding box)."""

    brain: sitk.Image  # template * mask (float32): the registration target
    mask: sitk.Image  # uint8
    bbox: tuple[int, ...] = field(default=())  # (x0, y0, z0, x1, y1, z1) on the resampled atlas


@lru_cache(maxsize=4)
def _load_atlas_cached(atlas_image: str, atlas_mask: str | None, spacing: tuple) -> Atlas:
    image = read_image(atlas_image, "atlas image")
    if atlas_mask is not None and os.path.exists(atlas_mask):
        mask = read_image(atlas_mask, "atlas brain mask")
        require_same_grid(image, mask, atlas_image, atlas_mask, "atlas brain mask")
    elif atlas_mask is not None:
        raise InputError(
            f"{atlas_mask}: atlas brain mask not found. Make it (e.g. T1_brain > 0) or "
            "leave the mask out to derive it from the skull-stripped template."
        )
    else:
        mask = image  # a skull-stripped template: brain = non-zero voxels
    mask = sitk.Cast(mask > 0, sitk.sitkUInt8)
    if not np.allclose(image.GetSpacing(), spacing, rtol=1e-3):
        image = resample_to_spacing(image, spacing, sitk.sitkLinear)
        mask = resample_to_spacing(mask, spacing, sitk.sitkNearestNeighbor)
    m = sitk.GetArrayViewFromImage(mask)
    if not m.any():
        raise InputError(f"{atlas_mask or atlas_image}: the atlas brain mask is empty.")
    zyx = np.argwhere(m)
    lo, hi = zyx.min(0)[::-1], zyx.max(0)[::-1] + 1  # x, y, z
    size = [int(top - low) for low, top in zip(lo, hi)]
    index = [int(v) for v in lo]
    image = sitk.RegionOfInterest(image, size, index)
    mask = sitk.RegionOfInterest(mask, size, index)
    brain = sitk.Mask(sitk.Cast(image, sitk.sitkFloat32), mask)
    return Atlas(brain=brain, mask=mask, bbox=tuple(index) + tuple(int(v) for v in hi))


def load_atlas(
    atlas_image: str | os.PathLike, atlas_mask: str | os.PathLike | None, spacing: tuple[float, float, float]
) -> Atlas:
    """Atlas brain + mask resampled to `spacing` and cut to the brain's bounding box (cached)."""
    return _load_atlas_cached(
        str(atlas_image), None if atlas_mask is None else str(atlas_mask), tuple(float(s) for s in spacing)
    )


# An atlas template in memory as float32: SRI24's T1_brain (240 x 240 x 155) is 36 MB, MNI152 at 1 mm 35 MB.
# Reading, the ITK copy and the mask take about 5 times that: a crafted archive's 640 MB template cost
# 3.1 GB before; 256 MB keeps the rule near 1.3 GB, and is 7 times a real template.
MAX_ATLAS_BYTES = 256 << 20


def write_atlas_files(template: str | os.PathLike, out_image: str | os.PathLike, out_mask: str | os.PathLike) -> None:
    """Copy a skull-stripped template (e.g. SRI24 templates/T1_brain.nii) to `out_image` and
    write its brain mask (template > 0) to `out_mask`, both as NIfTI with the template's affine.
    A template over MAX_ATLAS_BYTES (from its header) is refused before any voxel is read."""
    voxels = int(np.prod(image_claims(template, "atlas template").shape[:3], dtype=np.int64))
    if 4 * voxels > MAX_ATLAS_BYTES:
        raise InputError(
            f"{template}: an atlas template of {voxels:,} voxels ({4 * voxels >> 20:,} MB as float32), more than the "
            f"{MAX_ATLAS_BYTES >> 20} MB an atlas takes (SRI24's T1_brain: 36 MB); nothing was read. The archive is not "
            "the SRI24 package: delete it and its folder, and run again."
        )
    img = read_image(template, "atlas template")
    data = to_numpy(img)
    if not (data > 0).any():
        raise InputError(f"{template}: the template is empty; re-download the atlas.")
    save_volume(data.astype(np.float32), out_image, affine=ras_affine(img))
    save_volume((data > 0).astype(np.uint8), out_mask, affine=ras_affine(img))

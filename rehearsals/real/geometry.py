"""Scanner-like geometry for rehearsal fixtures: voxel grids with real datasets' voxel sizes,
axis orders (axial/sagittal, RAS/LPS) and oblique tilts, and int16 storage with a scaling slope.

A synthetic subject is rendered once on the synthesiser's axis-aligned grid; `resample` then
samples it on any such grid, through world (RAS mm) coordinates, so every fixture file of one
subject (raw, co-registered, masks) describes the same anatomy in the same world space.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

from patch2loc.files.staging import atomic_output

_AXES = {"R": (0, 1.0), "L": (0, -1.0), "A": (1, 1.0), "P": (1, -1.0), "S": (2, 1.0), "I": (2, -1.0)}


@dataclass(frozen=True)
class Grid:
    shape: tuple[int, int, int]
    affine: np.ndarray  # voxel -> RAS world (mm)


def rotation_x(degrees: float) -> np.ndarray:
    """Rotation about the left-right axis (a pitched, oblique acquisition)."""
    a = np.deg2rad(degrees)
    return np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])


def make_grid(codes: str, spacing, fov_mm, centre, oblique_deg: float = 0.0) -> Grid:
    """Grid whose voxel axes point along `codes` (e.g. "LPS", "PSR"), `spacing` mm per voxel
    (in voxel-axis order), covering `fov_mm` (in voxel-axis order) centred on world `centre`,
    tilted by `oblique_deg` about the left-right axis."""
    direction = np.zeros((3, 3))
    for axis, code in enumerate(codes):
        world_axis, sign = _AXES[code]
        direction[world_axis, axis] = sign
    direction = rotation_x(oblique_deg) @ direction
    spacing = np.asarray(spacing, dtype=float)
    shape = tuple(int(max(1, round(f / s))) for f, s in zip(fov_mm, spacing))
    affine = np.eye(4)
    affine[:3, :3] = direction @ np.diag(spacing)
    affine[:3, 3] = np.asarray(centre, float) - affine[:3, :3] @ ((np.asarray(shape) - 1) / 2.0)
    return Grid(shape, affine)


def resample(data: np.ndarray, affine: np.ndarray, grid: Grid, order: int = 1) -> np.ndarray:
    """`data` (on `affine`) sampled on `grid`; zero outside. order 0 for labels."""
    to_source = np.linalg.inv(affine) @ grid.affine
    out = ndimage.affine_transform(
        np.asarray(data, np.float32 if order else data.dtype),
        to_source[:3, :3],
        to_source[:3, 3],
        output_shape=grid.shape,
        order=order,
        mode="constant",
        cval=0,
    )
    return out


def save(data: np.ndarray, affine: np.ndarray, path: str | Path, *, kind: str = "image") -> Path:
    """Write like a scanner export: images as int16 with a scaling slope (nibabel chooses slope
    and intercept so the float intensities fit int16), label maps as uint8; qform and sform set."""
    if kind == "image":
        img = nib.Nifti1Image(np.clip(np.asarray(data, np.float32), 0, None), affine)
        img.set_data_dtype(np.int16)  # stored int16, scl_slope != 1: readers must apply it
    else:
        img = nib.Nifti1Image(np.rint(np.asarray(data)).astype(np.uint8), affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    with atomic_output(path) as tmp:
        nib.save(img, str(tmp))
    return Path(path)

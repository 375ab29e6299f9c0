"""Does a mask lie on its image's voxel grid, and if it is off by less than a voxel, put it there.

Real datasets ship masks whose header is a fraction of a voxel off the image's: MSLUB's
`brainmask.nii.gz` sits half a voxel from `consensus_gt.nii.gz` in 29 of 30 patients (same size,
spacing and axes). Such a mask is brought onto the image grid by nearest neighbour, and the
caller records it (one warning line, and qc.json). Anything larger (an offset of a voxel or more,
another size, spacing or orientation) is the wrong file or a wrong header and stays an error.

With equal size, spacing and axes, nearest-neighbour resampling is a whole-voxel shift per axis.
It is done as exactly that shift (zero fill), because at an offset of exactly half a voxel
rounding of the interpolated positions would pick a different neighbour from one voxel to the
next; ties (|fraction| = 0.5) keep the voxel where it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from patch2loc.errors import InputError

SAME_GRID_VOXELS = 0.01  # offsets below this fraction of a voxel are the same grid
DIRECTION_ATOL = 1e-3
SPACING_RTOL = 1e-3
_TIE = 1e-3  # |fraction| within this of 0.5 is a tie


def voxel_offset(ref: sitk.Image, other: sitk.Image) -> tuple[np.ndarray, np.ndarray] | None:
    """(offset in mm, offset in ref voxels) of other's origin from ref's, or None when the two
    grids differ in more than their origin (size, spacing or axes)."""
    if (
        ref.GetSize() != other.GetSize()
        or not np.allclose(ref.GetSpacing(), other.GetSpacing(), rtol=SPACING_RTOL)
        or not np.allclose(ref.GetDirection(), other.GetDirection(), atol=DIRECTION_ATOL)
    ):
        return None
    mm = np.asarray(other.GetOrigin()) - np.asarray(ref.GetOrigin())
    axes = np.asarray(ref.GetDirection()).reshape(3, 3) * np.asarray(ref.GetSpacing())
    return mm, np.linalg.solve(axes, mm)


def _mismatch(ref, other, ref_path, other_path, kind, offset=None) -> InputError:
    where = "" if offset is None else f", origin {(np.round(offset[1], 2) + 0.0).tolist()} voxels away"
    return InputError(
        f"{other_path}: {kind} grid (size {other.GetSize()}, spacing "
        f"{np.round(other.GetSpacing(), 3).tolist()}{where}) does not match image {ref_path} (size "
        f"{ref.GetSize()}, spacing {np.round(ref.GetSpacing(), 3).tolist()}). Use the {kind} "
        "that belongs to this scan, or resample it onto the image grid first."
    )


def require_same_grid(ref: sitk.Image, other: sitk.Image, ref_path, other_path, kind: str) -> None:
    """InputError unless `other` lies on `ref`'s grid (within SAME_GRID_VOXELS)."""
    offset = voxel_offset(ref, other)
    if offset is None or np.abs(offset[1]).max() >= SAME_GRID_VOXELS:
        raise _mismatch(ref, other, ref_path, other_path, kind, offset)


def whole_voxel_shift(voxels: np.ndarray) -> np.ndarray:
    """Per axis, the nearest whole-voxel shift of an offset of `voxels`; ties keep 0 (see top)."""
    voxels = np.asarray(voxels, dtype=float)
    tie = np.abs(np.abs(voxels - np.trunc(voxels)) - 0.5) < _TIE
    return np.where(tie, np.trunc(voxels), np.round(voxels)).astype(int)


def _shift(array: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """array[i] -> out[i + shift] per axis, zero fill ([z, y, x] arrays take the shift reversed)."""
    out = np.zeros_like(array)
    src, dst = [], []
    for n, s in zip(array.shape, shift):
        src.append(slice(max(0, -s), n - max(0, s)))
        dst.append(slice(max(0, s), n - max(0, -s)))
    out[tuple(dst)] = array[tuple(src)]
    return out


def onto_image_grid(
    ref: sitk.Image, other: sitk.Image, ref_path, other_path, kind: str
) -> tuple[sitk.Image, dict | None]:
    """`other` on `ref`'s grid, and a record of the move when it had to be moved there (None when
    it was there already; qc.json keeps the records under `grid_resampled`).

    A sub-voxel origin offset (same size, spacing and axes) is resampled by nearest neighbour and
    reported with one warning line on stderr; any larger difference raises InputError.
    """
    offset = voxel_offset(ref, other)
    if offset is None or np.abs(offset[1]).max() >= 1.0:
        raise _mismatch(ref, other, ref_path, other_path, kind, offset)
    mm, voxels = offset
    if np.abs(voxels).max() < SAME_GRID_VOXELS:
        return other, None
    shift = whole_voxel_shift(voxels)
    moved = sitk.GetImageFromArray(_shift(sitk.GetArrayFromImage(other), shift[::-1]))
    moved.CopyInformation(ref)
    record = {
        "file": str(other_path),
        "kind": kind,
        "offset_mm": (np.round(mm, 4) + 0.0).tolist(),  # no -0.0
        "offset_voxels": (np.round(voxels, 4) + 0.0).tolist(),
        "shift_voxels": shift.tolist(),
    }
    print(
        f"WARNING: {other_path}: {kind} origin is {record['offset_mm']} mm ({record['offset_voxels']} "
        f"voxels) off image {ref_path}; resampled onto the image grid by nearest neighbour "
        f"(whole-voxel shift {record['shift_voxels']})",
        file=sys.stderr,
        flush=True,
    )
    return moved, record


def describe(record: dict) -> str:
    """One QC-table cell for a grid_resampled record: file name and offset."""
    name = Path(record["file"]).name
    return f"{name} offset {record['offset_mm']} mm ({record['offset_voxels']} voxels)"

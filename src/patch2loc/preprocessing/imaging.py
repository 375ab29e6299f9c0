"""SimpleITK images: reading with clear errors, grid checks, array/affine conventions, crop/pad.

Split out of preprocess.py (which re-exports every name), so that the chain reads top to bottom.
"""
from __future__ import annotations

import os

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from patch2loc.io import InputError
from patch2loc.preprocessing.grid import require_same_grid

# ---------------------------------------------------------------------------------- reading

def read_image(path: str | os.PathLike, kind: str = "image") -> sitk.Image:
    """Read a 3D scalar image as float32; InputError naming the file when unusable."""
    path = str(path)
    if not os.path.exists(path):
        raise InputError(f"{path}: {kind} not found. Check the raw data layout (patch2loc.data.layouts).")
    data = None
    try:
        img = sitk.ReadImage(path)
        if path.endswith((".nii", ".nii.gz")):
            # ITK zero-fills a truncated .nii.gz without complaint; nibabel raises. Take the voxels
            # from nibabel (same storage order) and the geometry from ITK.
            data = np.asarray(nib.load(path).dataobj, dtype=np.float32)
    except Exception as exc:  # RuntimeError (ITK), OSError/EOFError/zlib.error/... (nibabel)
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise InputError(f"{path}: cannot be read as an image ({detail}). "
                         "Re-download or re-export it; it may be truncated.") from exc
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{path}: {kind} has {img.GetNumberOfComponentsPerPixel()} components per "
                         "voxel; pass a single-channel 3D volume.")
    if img.GetDimension() == 4 and img.GetSize()[3] == 1:
        img = img[:, :, :, 0]
    if img.GetDimension() != 3:
        raise InputError(f"{path}: expected a 3D {kind}, got size {img.GetSize()}. Pass one 3D volume.")
    img = sitk.Cast(img, sitk.sitkFloat32)
    if data is not None:
        data = np.squeeze(data)
        if data.shape != img.GetSize():
            raise InputError(f"{path}: voxel array {data.shape} does not match header size "
                             f"{img.GetSize()}. Re-export the file as a plain 3D NIfTI.")
        img = from_numpy(data, img)
    if not np.isfinite(sitk.GetArrayViewFromImage(img)).all():
        raise InputError(f"{path}: {kind} contains NaN or infinite values. Fix or re-export it.")
    return img


def _check_same_grid(ref: sitk.Image, other: sitk.Image, ref_path, other_path, kind: str) -> None:
    """A mask must lie on its image's voxel grid (same size and physical placement): the strict
    check of preprocessing.grid (which also resamples masks a fraction of a voxel off)."""
    require_same_grid(ref, other, ref_path, other_path, kind)


# ----------------------------------------------------------------------------- geometry

def ras_affine(img: sitk.Image) -> np.ndarray:
    """4x4 voxel -> RAS world affine of a SimpleITK image (ITK works in LPS)."""
    direction = np.asarray(img.GetDirection()).reshape(3, 3)
    affine = np.eye(4)
    affine[:3, :3] = direction @ np.diag(img.GetSpacing())
    affine[:3, 3] = img.GetOrigin()
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ affine


def to_numpy(img: sitk.Image) -> np.ndarray:
    """SimpleITK [z, y, x] array -> the package's [X, Y, Z] order."""
    return np.ascontiguousarray(sitk.GetArrayFromImage(img).transpose(2, 1, 0))


def from_numpy(array: np.ndarray, like: sitk.Image) -> sitk.Image:
    img = sitk.GetImageFromArray(np.ascontiguousarray(np.asarray(array).transpose(2, 1, 0)))
    img.CopyInformation(like)
    return img


def resample_to_spacing(img: sitk.Image, spacing, interpolator=sitk.sitkLinear) -> sitk.Image:
    """Same field of view, voxels of `spacing` mm."""
    old_size, old_spacing = np.array(img.GetSize()), np.array(img.GetSpacing())
    new_size = np.maximum(1, np.round(old_size * old_spacing / np.asarray(spacing))).astype(int)
    return sitk.Resample(img, [int(s) for s in new_size], sitk.Transform(), interpolator,
                         img.GetOrigin(), [float(s) for s in spacing], img.GetDirection(), 0.0,
                         img.GetPixelID())


def crop_or_pad(array: np.ndarray, target: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Centred crop/zero-pad to `target`; also return the voxel offset of the new index 0."""
    out = np.zeros(target, dtype=array.dtype)
    src, dst, offset = [], [], []
    for n, t in zip(array.shape, target):
        if n >= t:
            start = (n - t) // 2
            src.append(slice(start, start + t)), dst.append(slice(0, t)), offset.append(start)
        else:
            before = (t - n) // 2
            src.append(slice(0, n)), dst.append(slice(before, before + n)), offset.append(-before)
    out[tuple(dst)] = array[tuple(src)]
    return out, np.asarray(offset, dtype=float)


def shift_affine(affine: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Affine of a grid whose voxel 0 is voxel `offset` of the old grid."""
    shift = np.eye(4)
    shift[:3, 3] = offset
    return affine @ shift

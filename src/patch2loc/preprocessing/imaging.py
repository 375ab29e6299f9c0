"""SimpleITK images: reading with clear errors, grid checks, array/affine conventions, crop/pad.

Split out of preprocess.py (which re-exports every name), so that the chain reads top to bottom.
"""

from __future__ import annotations

import contextlib
import math
import os

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from patch2loc.checks.claims import Claims, check_orthogonal, is_nifti, nifti_claims, quiet_nibabel, regular_file
from patch2loc.checks.intensities import clip_outliers, warn_full_mask, warn_int16_wrap
from patch2loc.errors import InputError
from patch2loc.checks.limits import check_image_size

# ---------------------------------------------------------------------------------- reading


def _sitk_claims(path: str, what: str) -> Claims:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as exc:
        detail = (str(exc).strip().splitlines() or ["unknown format"])[-1][:160]
        raise InputError(f"{path}: cannot be read as an image ({detail}). Re-export it as NIfTI (.nii.gz).") from None
    shape = tuple(reader.GetSize())
    item = sitk.Image([1] * reader.GetDimension(), reader.GetPixelID()).GetSizeOfPixelComponent()
    check_image_size(path, shape, item * reader.GetNumberOfComponents(), "its header")
    spacing = tuple(float(s) for s in reader.GetSpacing())[:3]
    if not all(math.isfinite(s) and s > 0 for s in spacing):
        raise InputError(
            f"{path}: the {what}'s voxel size is {' x '.join(f'{s:g}' for s in spacing)} mm; zero, "
            "negative or non-finite voxel sizes are refused. Fix the header."
        )
    n = min(3, reader.GetDimension())
    lps = np.eye(4)  # ITK geometry is LPS; nibabel's affines are RAS
    lps[:n, :n] = np.asarray(reader.GetDirection()).reshape(reader.GetDimension(), -1)[:n, :n] * spacing[:n]
    lps[:n, 3] = reader.GetOrigin()[:n]
    return Claims(shape, np.dtype(np.float32), np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps, spacing)


def image_claims(path, what: str = "image", fix: str = "Check the path.") -> Claims:
    """Checked claims of any image file (NIfTI through its header, claims.py; other formats
    through ITK's header reader): size within PATCH2LOC_MAX_IMAGE_MB, voxel sizes > 0."""
    if is_nifti(path):
        return nifti_claims(path, what, fix)
    return _sitk_claims(str(regular_file(path, what, fix)), what)


@contextlib.contextmanager
def quiet_itk():
    """ITK prints its warnings (header repairs, GDCM notes) straight to stderr; the checks in
    claims.py and the DICOM reader report what matters in one line instead."""
    shown = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)
    try:
        yield
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(shown)


def _voxels(path: str, reader: sitk.ImageFileReader, stored: list) -> np.ndarray:
    """The voxel array [X, Y, Z, ...] in the file's own type (NIfTI: from nibabel, because ITK
    zero-fills a truncated .nii.gz without complaint and nibabel raises)."""
    if is_nifti(path):
        with quiet_nibabel():
            nii = nib.load(path)
            data = np.asarray(nii.dataobj)
        slope, inter = nii.header.get_slope_inter()
        stored.append(nii.get_data_dtype() if slope in (None, 1.0) and not inter else None)
        return data
    with quiet_itk():
        return sitk.GetArrayFromImage(reader.Execute()).T


def read_image(path: str | os.PathLike, kind: str = "image") -> sitk.Image:
    """Read a 3D scalar image as float32; InputError naming the file when unusable.

    What the file claims is checked before any voxel is read (claims.py: size limit, voxel sizes,
    a degenerate or sheared affine). NaN/inf are refused; for kind "image" extreme outliers are
    clipped with one warning and an int16 scan that wrapped around is reported (intensities.py).
    """
    path = str(path)
    claims = image_claims(path, kind, "Check the raw data layout (patch2loc.data.layouts).")
    check_orthogonal(claims, path, kind)
    reader = sitk.ImageFileReader()
    reader.SetFileName(path)
    stored: list = []
    try:
        with quiet_itk():
            reader.ReadImageInformation()
        ndim, size = reader.GetDimension(), reader.GetSize()
        if reader.GetNumberOfComponents() != 1:
            raise InputError(
                f"{path}: {kind} has {reader.GetNumberOfComponents()} components per "
                "voxel; pass a single-channel 3D volume."
            )
        if ndim != 3 and not (ndim == 4 and size[3] == 1):
            raise InputError(f"{path}: expected a 3D {kind}, got size {size}. Pass one 3D volume.")
        data = np.squeeze(_voxels(path, reader, stored))
    except InputError:
        raise
    except Exception as exc:  # RuntimeError (ITK), OSError/EOFError/zlib.error/... (nibabel)
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
        raise InputError(
            f"{path}: cannot be read as an image ({detail}). Re-download or re-export it; it may be truncated."
        ) from exc
    if data.shape != tuple(size[:3]):
        raise InputError(
            f"{path}: voxel array {data.shape} does not match header size "
            f"{tuple(size[:3])}. Re-export the file as a plain 3D NIfTI."
        )
    if data.dtype.kind == "f" and not np.isfinite(data).all():
        raise InputError(f"{path}: {kind} contains NaN or infinite values. Fix or re-export it.")
    if kind == "image":
        warn_int16_wrap(data, stored[0] if stored else np.float32, path, kind)
        data = clip_outliers(data, path, kind)
    elif kind == "brain mask":
        warn_full_mask(data > 0, path, kind)
    data = data.astype(np.float32, copy=False)
    if not np.isfinite(data).all():  # float64 values beyond the float32 range
        raise InputError(f"{path}: {kind} values exceed the float32 range. Rescale and re-export it.")
    img = sitk.GetImageFromArray(np.ascontiguousarray(data.transpose(2, 1, 0)))
    img.SetSpacing(reader.GetSpacing()[:3])
    img.SetOrigin(reader.GetOrigin()[:3])
    img.SetDirection(np.asarray(reader.GetDirection()).reshape(ndim, ndim)[:3, :3].ravel().tolist())
    return img


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
    return sitk.Resample(
        img,
        [int(s) for s in new_size],
        sitk.Transform(),
        interpolator,
        img.GetOrigin(),
        [float(s) for s in spacing],
        img.GetDirection(),
        0.0,
        img.GetPixelID(),
    )


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
